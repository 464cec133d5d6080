import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { listBundle } from '../../src/bundle/list.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { isFerryError } from '../../src/errors.js'
import { RegistryClient } from '../../src/registry/index.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/index.js'
import { attachSbom, signImage } from '../../src/supply/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { catalog, sha256File, tempDir } from './helpers.js'

describe('signed and split bundles', () => {
  let reg: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let image: string
  let layer: string
  const pair = generateKeyPair('bundle-test')
  const signingKey = decryptPrivateKey(pair.privateKeyPem, 'bundle-test')
  const publicKey = readPublicKey(pair.publicKeyPem)
  const otherKey = readPublicKey(generateKeyPair('other').publicKeyPem)

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient()
    tmp = await tempDir('signed')
    const m = await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'app' }),
      { seed: 'signed', layers: 3, layerSize: 100_000 },
      '1',
    )
    if (m.kind !== 'image') throw new Error('expected an image')
    layer = m.image.layers[1]!.digest
    image = `${reg.host}/app:1`
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
    await tmp?.cleanup()
  })

  const create = (output: string, opts: { splitSize?: number; signed?: boolean } = {}) =>
    createBundle(testContext({ client }), specFromImages([image], { name: 'signed', version: '1' }), {
      output,
      splitSize: opts.splitSize,
      signingKey: opts.signed === false ? undefined : signingKey,
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    })

  /** A copy of the bundle with the first occurrence of `find` (after `from`) changed by `edit`. */
  async function tampered(path: string, name: string, at: (bytes: Buffer) => number): Promise<string> {
    const bytes = Buffer.from(await readFile(path))
    const i = at(bytes)
    expect(i).toBeGreaterThan(0)
    bytes[i] = bytes[i]! ^ 0x01
    const out = join(tmp.dir, name)
    await writeFile(out, bytes)
    return out
  }

  it('verifies its signature offline with the public key, and refuses the wrong key', async () => {
    const path = join(tmp.dir, 'signed.tar')
    await create(path)
    expect((await listBundle(path)).signed).toBe(true)
    expect((await verifyBundleFile(path, { publicKey: undefined })).signature).toBe('not-checked')
    // --key also checks each image's own signatures: this image has none, so its row fails; the bundle's verified.
    const report = await verifyBundleFile(path, { publicKey })
    expect(report.signature).toBe('verified')
    expect(report.images[0]!.checks.find((c) => c.name === 'signature')?.ok).toBe(false)
    const wrong = await verifyBundleFile(path, { publicKey: otherKey }).catch((e: Error) => e)
    expect(isFerryError(wrong, 'VERIFY_FAILED')).toBe(true)
    expect((wrong as Error).message).toMatch(/ferry-bundle\.json\.sig does not verify/)
  })

  it('bundle ls says "signed" only when the signature verifies with --key; a tampered one or the wrong key fails', async () => {
    const path = join(tmp.dir, 'ls-signed.tar')
    await create(path)
    // Without a key nothing is proven: the listing says the signature is there but not checked.
    expect((await listBundle(path)).signature).toBe('not-checked')
    expect((await listBundle(path, { publicKey })).signature).toBe('verified')
    const wrong = await listBundle(path, { publicKey: otherKey }).catch((e: Error) => e)
    expect(isFerryError(wrong, 'VERIFY_FAILED')).toBe(true)
    expect((wrong as Error).message).toMatch(
      /ls-signed\.tar: the signature in ferry-bundle\.json\.sig does not verify/,
    )
    // One byte of the signature's base64 changed, 10 bytes into the entry's data (header is 512 bytes).
    const bad = await tampered(
      path,
      'ls-tampered.tar',
      (b) => b.indexOf('ferry-bundle.json.sig\0') + 512 + 10,
    )
    expect((await listBundle(bad)).signature).toBe('not-checked')
    const tamperedErr = await listBundle(bad, { publicKey }).catch((e: Error) => e)
    expect(isFerryError(tamperedErr, 'VERIFY_FAILED')).toBe(true)
    const unsigned = join(tmp.dir, 'ls-unsigned.tar')
    await create(unsigned, { signed: false })
    expect((await listBundle(unsigned)).signature).toBe('unsigned')
    expect((await listBundle(unsigned)).signed).toBe(false)
  })

  it('writes a signature openssl checks with the public key, on the extracted files', async () => {
    const path = join(tmp.dir, 'signed.tar')
    const dir = join(tmp.dir, 'openssl')
    await mkdir(dir)
    execFileSync('tar', ['-xf', path, '-C', dir, 'ferry-bundle.json', 'ferry-bundle.json.sig'])
    await writeFile(
      join(dir, 'sig.der'),
      Buffer.from(await readFile(join(dir, 'ferry-bundle.json.sig'), 'utf8'), 'base64'),
    )
    await writeFile(join(dir, 'key.pub'), pair.publicKeyPem)
    const args = ['dgst', '-sha256', '-verify', join(dir, 'key.pub'), '-signature', join(dir, 'sig.der')]
    expect(execFileSync('openssl', [...args, join(dir, 'ferry-bundle.json')]).toString()).toContain(
      'Verified OK',
    )
    await writeFile(join(dir, 'other.json'), '{}')
    expect(() => execFileSync('openssl', [...args, join(dir, 'other.json')], { stdio: 'pipe' })).toThrow()
  })

  it('checks each image offline: signatures in both schemes and a signed SBOM, one row per image', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'signed/web' })
    await pushSyntheticImage(repo, { seed: 'signed/web', layers: 1, layerSize: 30_000 }, '1')
    await signImage({ target: repo, reference: '1', key: signingKey, format: 'both' })
    const sbom = Buffer.from(
      JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'web' }),
    )
    const attached = await attachSbom({ target: repo, reference: '1', bytes: sbom })
    await signImage({ target: repo, reference: attached.digest, key: signingKey })
    const path = join(tmp.dir, 'supply.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([`${reg.host}/signed/web:1`, image], { name: 'supply', version: '1' }),
      { output: path, signingKey },
    )
    const report = await verifyBundleFile(path, { publicKey, requireSbom: true })
    expect(report.signature).toBe('verified')
    const [web, plain] = report.images
    expect(web!.ok).toBe(true)
    expect(web!.checks.map((c) => [c.name, c.ok])).toEqual([
      ['content', true],
      ['signature', true],
      ['sbom', true],
    ])
    expect(plain!.ok).toBe(false)
    expect(plain!.checks.find((c) => c.name === 'sbom')?.detail).toMatch(/no SBOM attached/)
    expect(report.ok).toBe(false)
    // Without a key an SBOM can only be shown to be present.
    const presence = await verifyBundleFile(path, { requireSbom: true })
    expect(presence.images.map((i) => i.ok)).toEqual([true, false])
  })

  it('detects a flipped byte in ferry-bundle.json (signature) and in a blob (digest)', async () => {
    const path = join(tmp.dir, 'signed.tar')
    // "name": "signed" → "name": "signee": still valid, consistent JSON; only the signature can tell.
    const meta = await tampered(path, 'meta.tar', (b) => b.indexOf('"name": "signed"') + 14)
    const err = await verifyBundleFile(meta, { publicKey }).catch((e: Error) => e)
    expect((err as Error).message).toMatch(/signature in ferry-bundle\.json\.sig does not verify/)
    const importErr = await importBundle(testContext({ client }), meta, {
      to: `${reg.host}/copy`,
      publicKey,
    }).catch((e: Error) => e)
    expect((importErr as Error).message).toMatch(/does not verify/)

    const blob = await tampered(
      path,
      'blob.tar',
      (b) => b.indexOf(`blobs/sha256/${layer.slice(7)}`) + 512 + 1000,
    )
    const bad = await verifyBundleFile(blob).catch((e: Error) => e)
    expect(isFerryError(bad, 'DIGEST_MISMATCH')).toBe(true)
    expect((bad as Error).message).toContain(`blob ${layer} is corrupt`)
    expect(await catalog(reg.url)).not.toContain('copy/app')
  })

  it('refuses an unsigned bundle when a key is required', async () => {
    const path = join(tmp.dir, 'unsigned.tar')
    await create(path, { signed: false })
    const err = await importBundle(testContext({ client }), path, {
      to: `${reg.host}/copy`,
      publicKey,
    }).catch((e: Error) => e)
    expect((err as Error).message).toMatch(/not signed/)
  })

  it('splits into parts with an index, reads them as one stream, and round-trips', async () => {
    // Unsigned: the comparison is of splitting, not of signing.
    const whole = join(tmp.dir, 'whole.tar')
    await create(whole, { signed: false })
    const dir = join(tmp.dir, 'split')
    await mkdir(dir)
    const path = join(dir, 'site.tar')
    const written = await create(path, { splitSize: 100 * 1024, signed: false })
    expect(written.files[0]).toBe(`${path}.parts.json`)
    expect(written.parts!.length).toBeGreaterThanOrEqual(3)
    expect((await readdir(dir)).sort()).toEqual(
      ['site.tar.parts.json', ...written.parts!.map((p) => p.name)].sort(),
    )
    // The parts are the same bytes as the unsplit bundle.
    expect(written.sha256).toBe(await sha256File(whole))

    for (const entry of [`${path}.000`, `${path}.parts.json`, path]) {
      expect((await verifyBundleFile(entry, { publicKey: undefined })).ok).toBe(true)
    }
    const result = await importBundle(testContext({ client }), `${path}.000`, { to: `${reg.host}/split` })
    expect(
      (await client.repository({ registry: reg.host, repository: 'split/app' }).resolve('1')).digest,
    ).toBe(result.images[0]!.digest)
  })

  it('names a missing or stale part', async () => {
    const dir = join(tmp.dir, 'split')
    const path = join(dir, 'site.tar')
    const second = `${path}.001`
    const aside = `${second}.aside`
    await rename(second, aside)
    const missing = await verifyBundleFile(`${path}.parts.json`).catch((e: Error) => e)
    expect((missing as Error).message).toContain(`part ${basename(second)} is missing`)
    await rename(aside, second)

    const original = await readFile(second)
    const bytes = Buffer.from(original)
    bytes[10] = bytes[10]! ^ 0xff
    await writeFile(second, bytes)
    const stale = await verifyBundleFile(`${path}.000`).catch((e: Error) => e)
    // Whichever is met first names the part: its own digest, or that of a blob lying in it.
    expect((stale as Error).message).toMatch(
      new RegExp(
        `part ${basename(second).replace('.', '\\.')} does not match the sha256|\\(in part [^)]*${basename(second).replace('.', '\\.')}[^)]*\\) is corrupt`,
      ),
    )

    // A byte in the end-of-archive padding belongs to no blob: only the part's own digest can tell.
    await writeFile(second, original)
    const parts = (await readdir(dir)).filter((n) => /\.\d{3}$/.test(n)).sort()
    const last = join(dir, parts[parts.length - 1]!)
    const tail = await readFile(last)
    tail[tail.length - 1] = 1
    await writeFile(last, tail)
    const padded = await verifyBundleFile(`${path}.parts.json`).catch((e: Error) => e)
    expect((padded as Error).message).toContain(
      `part ${parts[parts.length - 1]} does not match the sha256 in its parts index`,
    )

    await writeFile(second, bytes.subarray(0, bytes.length - 1))
    const short = await verifyBundleFile(`${path}.000`).catch((e: Error) => e)
    expect((short as Error).message).toMatch(
      new RegExp(`part ${basename(second).replace('.', '\\.')} is \\d+ bytes`),
    )
  })
})
