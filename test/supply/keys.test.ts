import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, stat, symlink, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FerryError } from '../../src/errors.js'
import { signClassic, verifyClassicLayer } from '../../src/sign/index.js'
import {
  createdTimestamp,
  loadPublicKey,
  loadSigningKey,
  parseKeyValues,
  writeKeyPair,
} from '../../src/supply/index.js'
import { tempDir } from './helpers.js'

let tmp: Awaited<ReturnType<typeof tempDir>>

beforeAll(async () => {
  tmp = await tempDir()
})

afterAll(async () => {
  await tmp?.remove()
})

describe('key files', () => {
  it('writes a pair that loads back and signs, the private key 0600', async () => {
    const prefix = join(tmp.dir, 'cosign')
    const files = await writeKeyPair({ prefix, password: 'pw' })
    expect(files).toEqual({ privateKeyPath: `${prefix}.key`, publicKeyPath: `${prefix}.pub` })
    expect((await stat(files.privateKeyPath)).mode & 0o777).toBe(0o600)
    const key = await loadSigningKey(files.privateKeyPath, 'pw')
    const pub = await loadPublicKey(files.publicKeyPath)
    const payload = new TextEncoder().encode('payload')
    expect(verifyClassicLayer(payload, signClassic(payload, key), pub)).toBe(true)
  })

  it('never overwrites without force, checking both files before writing either', async () => {
    const prefix = join(tmp.dir, 'half')
    await writeFile(`${prefix}.pub`, 'keep me')
    await expect(writeKeyPair({ prefix, password: 'pw' })).rejects.toMatchObject({
      code: 'USAGE',
      message: `${prefix}.pub already exists; remove it or pass --force to overwrite`,
    })
    expect(existsSync(`${prefix}.key`)).toBe(false)
    expect(await readFile(`${prefix}.pub`, 'utf8')).toBe('keep me')

    await writeFile(`${prefix}.key`, 'old', { mode: 0o644 })
    await writeKeyPair({ prefix, password: 'pw', force: true })
    expect((await stat(`${prefix}.key`)).mode & 0o777).toBe(0o600)
    expect(await readFile(`${prefix}.pub`, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/)
  })

  it('names the file, never the password or the key, on a wrong password or a missing file', async () => {
    const prefix = join(tmp.dir, 'secret')
    const files = await writeKeyPair({ prefix, password: 'right-password' })
    const err = await loadSigningKey(files.privateKeyPath, 'wrong-password').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('CREDENTIALS')
    expect((err as FerryError).message).toBe(
      `wrong password for key ${files.privateKeyPath} (or the key file is damaged)`,
    )
    const pem = await readFile(files.privateKeyPath, 'utf8')
    for (const line of pem.split('\n').filter((l) => l && !l.startsWith('-----'))) {
      expect((err as FerryError).message).not.toContain(line)
    }
    await expect(loadPublicKey(join(tmp.dir, 'nope.pub'))).rejects.toMatchObject({
      code: 'USAGE',
      message: `public key ${join(tmp.dir, 'nope.pub')}: no such file`,
    })
  })
})

describe('key files that are not what they seem', () => {
  it('--force refuses a symlink at PREFIX.key and leaves its target untouched', async () => {
    const prefix = join(tmp.dir, 'linked')
    const victim = join(tmp.dir, 'victim.txt')
    await writeFile(victim, 'precious')
    await symlink(victim, `${prefix}.key`)
    await expect(writeKeyPair({ prefix, password: 'pw', force: true })).rejects.toMatchObject({
      code: 'USAGE',
      message: `${prefix}.key exists and is not a regular file (a symlink?); refusing to write it`,
    })
    expect(await readFile(victim, 'utf8')).toBe('precious')
    expect(existsSync(`${prefix}.pub`)).toBe(false)
  })

  it('refuses /dev/zero, a FIFO with no writer (at once) and an oversized file', async () => {
    await expect(loadSigningKey('/dev/zero', 'pw')).rejects.toMatchObject({
      code: 'USAGE',
      message: 'private key /dev/zero: not a regular file',
    })
    const fifo = join(tmp.dir, 'key.fifo')
    execFileSync('mkfifo', [fifo])
    const started = Date.now()
    await expect(loadPublicKey(fifo)).rejects.toMatchObject({
      code: 'USAGE',
      message: `public key ${fifo}: not a regular file`,
    })
    expect(Date.now() - started).toBeLessThan(2000)
    const big = join(tmp.dir, 'big.key')
    await writeFile(big, '')
    await truncate(big, 10 * 1024 * 1024)
    await expect(loadSigningKey(big, 'pw')).rejects.toMatchObject({
      code: 'USAGE',
      message: `private key ${big}: 10485760 bytes is more than the 65536 allowed`,
    })
  })
})

describe('flag values', () => {
  it('parses KEY=VALUE pairs, values may hold "="', () => {
    expect(parseKeyValues(['env=prod', 'expr=a=b', 'empty='])).toEqual({
      env: 'prod',
      expr: 'a=b',
      empty: '',
    })
    expect(() => parseKeyValues(['novalue'])).toThrow('annotation "novalue": expected KEY=VALUE')
    expect(() => parseKeyValues(['=x'])).toThrow(FerryError)
    expect(() => parseKeyValues(['a=1', 'a=2'])).toThrow('annotation a is given twice with different values')
    expect(parseKeyValues(['a=1', 'a=1'])).toEqual({ a: '1' })
  })

  it('takes created times from SOURCE_DATE_EPOCH when set, in whole seconds', () => {
    expect(createdTimestamp({ SOURCE_DATE_EPOCH: '1700000000' })).toBe('2023-11-14T22:13:20Z')
    expect(createdTimestamp({}, () => new Date('2024-05-06T07:08:09.123Z'))).toBe('2024-05-06T07:08:09Z')
    expect(() => createdTimestamp({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(FerryError)
  })
})
