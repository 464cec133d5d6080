import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../../src/bundle/create.js'
import { INDEX_NAME, METADATA_NAME } from '../../../src/bundle/format.js'
import { specFromImages } from '../../../src/bundle/spec.js'
import { blobPath } from '../../../src/bundle/tar-write.js'
import { verifyBundleFile } from '../../../src/bundle/verify.js'
import { MemoryTarget } from '../../../src/content/memory.js'
import { isFerryError } from '../../../src/errors.js'
import { childrenOf } from '../../../src/oci/manifest.js'
import type { RegistryClient } from '../../../src/registry/index.js'
import {
  type Entry,
  pushSourceImages,
  readEntries,
  type SourceImages,
  tempDir,
  writeEntries,
} from '../../bundle/helpers.js'
import { testContext } from '../../helpers/context.js'

/**
 * A bundle's own consistency check (run by every open: verify, import, serve) walks the bundle as a
 * ReadOnlyTarget and reports what is missing instead of failing on it. The bundle is written from
 * repositories in memory (an in-process client hands them out); each variant below is the good tar with
 * one thing taken out of both the tar and ferry-bundle.json, so only the walk can notice.
 */
describe('bundle consistency through the graph walk', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let source: SourceImages
  let entries: Entry[]

  beforeAll(async () => {
    tmp = await tempDir('consistency')
    const stores = new Map<string, MemoryTarget>()
    const repository = (host: string, name: string) => {
      const key = `${host}/${name}`
      if (!stores.has(key)) stores.set(key, new MemoryTarget(key))
      return stores.get(key)!
    }
    const client = { repository, close: async () => {} } as unknown as RegistryClient
    source = await pushSourceImages(client, 'registry.test', 'consistency')
    const good = join(tmp.dir, 'good.tar')
    const spec = specFromImages([source.app], { name: 'app', version: '1', referrers: true })
    await createBundle(testContext({ client }), spec, { output: good })
    entries = await readEntries(good)
  })
  afterAll(async () => {
    await tmp?.cleanup()
  })

  /** The good bundle without the blob `digest`: gone from the tar and from ferry-bundle.json's list. */
  async function without(name: string, digest: string): Promise<string> {
    const path = join(tmp.dir, `${name}.tar`)
    const kept = entries
      .filter((e) => e.header.name !== blobPath(digest))
      .map((e) => {
        if (e.header.name !== METADATA_NAME) return e
        const metadata = JSON.parse(e.body!.toString()) as { blobs: { digest: string }[] }
        metadata.blobs = metadata.blobs.filter((b) => b.digest !== digest)
        const body = Buffer.from(JSON.stringify(metadata, null, 2))
        return { header: { ...e.header, size: body.byteLength }, body }
      })
    await writeEntries(path, kept)
    return path
  }

  const refusal = async (path: string) => {
    const err = await verifyBundleFile(path).catch((e: unknown) => e)
    expect(isFerryError(err, 'VERIFY_FAILED'), String(err)).toBe(true)
    return (err as Error).message
  }

  it('accepts the untouched bundle', async () => {
    expect(entries.some((e) => e.header.name === INDEX_NAME)).toBe(true)
    expect((await verifyBundleFile(await without('same', `sha256:${'0'.repeat(64)}`))).ok).toBe(true)
  })

  it('reports a missing layer with the manifest that names it', async () => {
    const child = childrenOf(source.index).manifests[1]!
    const image = entries.find((e) => e.header.name === blobPath(child.digest))!
    const { layers } = JSON.parse(image.body!.toString()) as { layers: { digest: string }[] }
    const layer = layers[1]!.digest
    expect(await refusal(await without('no-layer', layer))).toBe(
      `${join(tmp.dir, 'no-layer.tar')}: blob ${layer} of manifest ${child.digest} is neither in the bundle nor listed as omitted`,
    )
  })

  it('reports a missing child manifest with the index that names it, and what it alone held', async () => {
    const child = childrenOf(source.index).manifests[0]!
    const message = await refusal(await without('no-child', child.digest))
    expect(message).toBe(
      `${join(tmp.dir, 'no-child.tar')}: manifest ${child.digest} (from manifest ${source.index.digest}) is missing; a bundle always carries every manifest (and 4 more problems)`,
    )
  })

  it('reports a missing referrer manifest with the index.json entry that names it', async () => {
    const message = await refusal(await without('no-sbom', source.sbom.digest))
    expect(message).toMatch(
      new RegExp(
        `^.*: manifest ${source.sbom.digest} \\(from index\\.json entry [^)]+\\) is missing; a bundle always carries every manifest`,
      ),
    )
  })
})
