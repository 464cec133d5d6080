import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
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
