import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { GraphReader } from '../../../src/graph/index.js'
import { childrenOf, type Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { type Policy, policySchema } from '../../../src/policy/index.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import { readBackup, restoreRepository, writeBackup } from '../../../src/retention/backup.js'
import { planRepository, type RepositoryPlan } from '../../../src/retention/index.js'
import {
  type Image,
  pushArtifact,
  pushCosignStyleSignature,
  pushImage,
  streamOf,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'

/**
 * Retention's backup on stores in memory: the attachments of what goes are kept whole (their blobs moved
 * as a copy moves blobs, each once, none the other side has), and restore puts them back.
 */

const policy: Policy = (() => {
  const file = policySchema.parse({
    version: 1,
    environments: [{ name: 'rc', match: { tags: { match: '*-rc.*' } }, retention: { keep: { count: 1 } } }],
  })
  return {
    ...file,
    path: 'unit',
    environments: file.environments.map((e) => ({ ...e, keys: [], revoked: [] })),
    trust: { keys: [], revoked: [] },
  }
})()

describe('retention backup', () => {
  let dir: string
  let store: MemoryTarget
  let old: Image
  let sbom: Manifest
  let sig: Manifest
  let plan: RepositoryPlan

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-backup-'))
    store = new MemoryTarget('registry.test/acme/app')
    old = syntheticImage({ layerSizes: [64] })
    await pushImage(store, old, '1.0.0-rc.1')
    await pushImage(store, syntheticImage({ layerSizes: [64] }), '1.0.0-rc.2')
    sbom = await pushArtifact(store, old.manifest, MediaType.spdxJson, '{"spdxVersion":"SPDX-2.3"}')
    sig = await pushCosignStyleSignature(store, old.manifest)
    plan = await planRepository(store, { policy })
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const attachmentBlobs = () => new Set([sbom, sig].flatMap((m) => childrenOf(m).blobs.map((b) => b.digest)))

  it("keeps every attachment's blobs once, and no image layer", async () => {
    const backup = join(dir, 'backup')
    const { target, calls } = tracking(store)
    const summary = await writeBackup(backup, new GraphReader(target), plan)
    expect(summary).toMatchObject({ manifests: 3, blobs: attachmentBlobs().size, tags: 2 })
    for (const d of attachmentBlobs()) expect(calls.count('fetchBlob', d)).toBe(1)
    for (const layer of old.layers) expect(calls.count('fetchBlob', layer.desc.digest)).toBe(0)
    const record = await readBackup(backup)
    expect(record.repositories[0]!.blobs).toBe(attachmentBlobs().size)
  })

  it('restores the attachments with their blobs where the image layers still are, the tags last', async () => {
    const backup = join(dir, 'backup')
    const record = (await readBackup(backup)).repositories[0]!
    // The registry after apply, before its GC: the layers are there, the manifests are not.
    const after = new MemoryTarget('registry.test/acme/app')
    for (const b of [old.config, ...old.layers]) await after.pushBlob(b.desc, streamOf(b.bytes))
    const result = await restoreRepository(backup, record, after)
    expect(result).toMatchObject({ manifests: 3, blobs: attachmentBlobs().size, tags: 2, conflicts: [] })
    expect((await after.resolve('1.0.0-rc.1')).digest).toBe(old.manifest.digest)
    expect((await after.resolve(cosignTag(old.manifest.digest, 'sig'))).digest).toBe(sig.digest)
    expect((await after.referrers(old.manifest.digest)).map((d) => d.digest)).toEqual([sbom.digest])

    // Restored again where everything still is: nothing to move.
    const again = await restoreRepository(backup, record, after)
    expect(again.blobs).toBe(0)
  })
})
