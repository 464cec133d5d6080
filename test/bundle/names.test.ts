import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { encodeJson } from '../../src/bundle/format.js'
import { importBundle } from '../../src/bundle/import.js'
import { readBundleMetadata } from '../../src/bundle/reader.js'
import { checkMetadataSignature, signMetadata } from '../../src/bundle/signature.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { isFerryError } from '../../src/errors.js'
import { REF_NAME_ANNOTATION } from '../../src/layout/naming.js'
import type { Descriptor } from '../../src/oci/schemas.js'
import { RegistryClient } from '../../src/registry/index.js'
import { startServer } from '../../src/serve/index.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { catalog, type Entry, ferry, file, readEntries, tempDir, writeEntries } from './helpers.js'

describe('bundle names under the signature', () => {
  let reg: Distribution
  let target: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let signed: string
  let entries: Entry[]
  let oldDigest: string
  let keyFile: string
  const pair = generateKeyPair('names')
  const signingKey = decryptPrivateKey(pair.privateKeyPem, 'names')
  const publicKey = readPublicKey(pair.publicKeyPem)

  beforeAll(async () => {
    ;[reg, target] = await Promise.all([startDistribution(), startDistribution()])
    client = new RegistryClient()
    tmp = await tempDir('names')
    const repo = client.repository({ registry: reg.host, repository: 'app' })
    const old = await pushSyntheticImage(repo, { seed: 'names/1.0', layers: 1, layerSize: 20_000 }, '1.0')
    await pushSyntheticImage(repo, { seed: 'names/2.0', layers: 1, layerSize: 20_000 }, '2.0')
    oldDigest = old.digest
    signed = join(tmp.dir, 'signed.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([`${reg.host}/app:1.0`, `${reg.host}/app:2.0`], { name: 'app', version: '2' }),
      { output: signed, signingKey, env: { SOURCE_DATE_EPOCH: '1700000000' } },
    )
    entries = await readEntries(signed)
    keyFile = join(tmp.dir, 'release.pub')
    await writeFile(keyFile, pair.publicKeyPem)
  })
  afterAll(async () => {
    await client?.close()
    await Promise.all([reg?.stop(), target?.stop()])
    await tmp?.cleanup()
  })

  const json = (name: string) => JSON.parse(entries.find((e) => e.header.name === name)!.body!.toString())

  /** The signed bundle with index.json (or ferry-bundle.json and its signature) replaced; all else as it was. */
  async function variant(
    name: string,
    edit: { index?: (index: { manifests: Descriptor[] }) => unknown; metadata?: Buffer },
  ): Promise<string> {
    const path = join(tmp.dir, `${name}.tar`)
    const signature = edit.metadata && (await signMetadata(edit.metadata, signingKey))
    const changed = entries.map((e) => {
      if (e.header.name === 'index.json' && edit.index)
        return file('index.json', JSON.stringify(edit.index(json('index.json'))))
      if (e.header.name === 'ferry-bundle.json' && edit.metadata) return file(e.header.name, edit.metadata)
      if (e.header.name === 'ferry-bundle.json.sig' && signature) return file(e.header.name, signature)
      return e
    })
    await writeEntries(path, changed)
    return path
  }

  /** index.json with `app:latest` added, pointing at the older image the bundle also carries. */
  const withLatest = (index: { manifests: Descriptor[] }) => {
    const old = index.manifests.find((e) => e.digest === oldDigest)!
    const latest = {
      ...old,
      annotations: { ...old.annotations, [REF_NAME_ANNOTATION]: `${reg.host}/app:latest` },
    }
    return { ...index, manifests: [...index.manifests, latest] }
  }
  const latestRefused = () =>
    new RegExp(
      `index\\.json entry "${reg.host}/app:latest" → ${oldDigest} is not among the entries ferry-bundle\\.json records \\(index\\.json was changed after the bundle was made\\); refusing the bundle`,
    )

  it('records every index.json entry in the signed metadata', async () => {
    const { metadata, index } = await readBundleMetadata(signed)
    expect(metadata.formatVersion).toBe(2)
    expect(metadata.entries).toEqual(index.manifests)
    expect(metadata.entries!.map((e) => e.annotations?.[REF_NAME_ANNOTATION])).toEqual([
      `${reg.host}/app:1.0`,
      `${reg.host}/app:2.0`,
    ])
    expect((await verifyBundleFile(signed, { publicKey })).signature).toBe('verified')
  })

  it('refuses an entry added to index.json after signing: verify, import and serve --bundle --key', async () => {
    const tampered = await variant('latest', { index: withLatest })
    // ferry-bundle.json and its signature are untouched: only the names can tell.
    const { metadataBytes } = await readBundleMetadata(signed)
    const entry = (await readEntries(tampered)).find((e) => e.header.name === 'ferry-bundle.json.sig')!
    expect(checkMetadataSignature(tampered, metadataBytes, entry.body, publicKey)).toBe('verified')

    const verified = await verifyBundleFile(tampered, { publicKey }).catch((e: unknown) => e)
    expect(isFerryError(verified, 'VERIFY_FAILED')).toBe(true)
    expect((verified as Error).message).toMatch(latestRefused())
    const imported = await importBundle(testContext({ client }), tampered, {
      to: `${target.host}/site`,
      publicKey,
    }).catch((e: unknown) => e)
    expect(isFerryError(imported, 'VERIFY_FAILED')).toBe(true)
    expect((imported as Error).message).toMatch(latestRefused())
    expect(await catalog(target.url)).toEqual([])
    const served = await startServer({ bundle: tampered, port: 0, publicKey }).catch((e: unknown) => e)
    expect(isFerryError(served, 'VERIFY_FAILED')).toBe(true)
    expect((served as Error).message).toMatch(latestRefused())
  })

  it('exits 5 with one line from bundle verify, bundle import and serve --bundle --key', async () => {
    const tampered = join(tmp.dir, 'latest.tar')
    const runs = await Promise.all([
      ferry('bundle/verify', tampered, '--key', keyFile),
      ferry('bundle/import', tampered, '--to', `${target.host}/cli`, '--key', keyFile),
      ferry('serve', '--bundle', tampered, '--key', keyFile, '--port', '0'),
    ])
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(5)
      expect(run.stderr.split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^ferry: .*${latestRefused().source}$`)),
        '',
      ])
    }
    expect(await catalog(target.url)).toEqual([])
  }, 60_000)

  it('refuses every other change to the names: rewritten, removed, re-annotated, or a field beside them', async () => {
    const cases: [string, (index: { manifests: Descriptor[] }) => unknown, RegExp][] = [
      [
        'rewritten',
        (index) => ({
          ...index,
          manifests: index.manifests.map((e) =>
            e.annotations?.[REF_NAME_ANNOTATION]?.endsWith(':2.0') ? { ...e, digest: oldDigest } : e,
          ),
        }),
        new RegExp(`index\\.json entry "${reg.host}/app:2\\.0" → ${oldDigest} is not among the entries`),
      ],
      [
        'removed',
        (index) => ({ ...index, manifests: index.manifests.slice(0, 1) }),
        new RegExp(
          `ferry-bundle\\.json entry "${reg.host}/app:2\\.0" → sha256:[a-f0-9]{64} is missing from index\\.json`,
        ),
      ],
      [
        'reordered',
        (index) => ({ ...index, manifests: [...index.manifests].reverse() }),
        /index\.json entries are not those ferry-bundle\.json records, in its order/,
      ],
      [
        're-annotated',
        (index) => ({
          ...index,
          manifests: index.manifests.map((e, i) =>
            i === 0 ? { ...e, annotations: { ...e.annotations, 'io.ferry.bundle.source': 'app:9' } } : e,
          ),
        }),
        new RegExp(`index\\.json entry "${reg.host}/app:1\\.0" → ${oldDigest} is not among the entries`),
      ],
      [
        'beside',
        (index) => ({ ...index, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }),
        /index\.json carries "annotations", which ferry-bundle\.json does not record/,
      ],
    ]
    for (const [name, edit, message] of cases) {
      const path = await variant(name, { index: edit })
      // Without a key too: index.json and the metadata must agree whether or not anyone checks the signature.
      const err = await verifyBundleFile(path).catch((e: unknown) => e)
      expect(isFerryError(err, 'VERIFY_FAILED'), `${name}: ${String(err)}`).toBe(true)
      expect((err as Error).message, name).toMatch(message)
    }
  })

  it('reads a format 1 bundle (names not signed) without a key, and refuses it with one', async () => {
    const metadata = json('ferry-bundle.json')
    delete metadata.entries
    const v1 = await variant('format-1', { metadata: encodeJson({ ...metadata, formatVersion: 1 }) })
    const report = await verifyBundleFile(v1)
    expect([report.ok, report.signature]).toEqual([true, 'not-checked'])
    const message =
      /bundle format 1 signs its blobs but not the names in index\.json, so a key cannot vouch for what its tags point to; re-create it with this ferry \(format 2\)/
    await expect(verifyBundleFile(v1, { publicKey })).rejects.toThrow(message)
    await expect(startServer({ bundle: v1, port: 0, publicKey })).rejects.toThrow(message)
    const future = await variant('format-3', {
      metadata: encodeJson({ ...json('ferry-bundle.json'), formatVersion: 3 }),
    })
    await expect(verifyBundleFile(future)).rejects.toThrow(
      /unsupported bundle format: this ferry reads formatVersion 1 and 2/,
    )
  })
})
