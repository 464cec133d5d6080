import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import type { Target } from '../../../src/content/target.js'
import type { Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { type Policy, policySchema } from '../../../src/policy/index.js'
import { applyRepository, planRepository, type RepositoryPlan } from '../../../src/retention/index.js'
import {
  pushArtifact,
  pushCosignStyleSignature,
  pushImage,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'
import { tempDir } from '../../supply/helpers.js'

/**
 * Retention's plan on a store in memory: what each tag is kept by, the closure a deleted digest takes
 * with it, and apply's refusal, before any change, on a store that allows no delete. The same against
 * distribution and ferry serve (fallback indexes, placeholder untags) is test/retention/retention.test.ts.
 */

const WRITES = ['pushBlob', 'pushManifest', 'tag', 'untag', 'addReferrer', 'removeReferrer', 'deleteManifest']

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

const byTag = (p: RepositoryPlan) => Object.fromEntries(p.keep.map((k) => [k.tag, k.reason]))
const actions = (p: RepositoryPlan) => Object.fromEntries(p.delete.map((d) => [d.tag, d.action]))

describe('retention plan', () => {
  let store: MemoryTarget
  const m: Record<string, Manifest> = {}
  let sbom: Manifest
  let sig: Manifest

  beforeAll(async () => {
    store = new MemoryTarget('registry.test/acme/app')
    for (const name of ['a', 'b', 'c']) {
      const image = syntheticImage({ layerSizes: [64] })
      await pushImage(store, image)
      m[name] = image.manifest
    }
    await store.tag(m.a!, '1.0.0-rc.1')
    await store.tag(m.b!, '1.0.0-rc.2')
    await store.tag(m.b!, 'stable') // matches no environment: kept, and with it b
    await store.tag(m.c!, '1.0.0-rc.3')
    sbom = await pushArtifact(store, m.a!, MediaType.spdxJson, '{"spdxVersion":"SPDX-2.3"}')
    sig = await pushCosignStyleSignature(store, m.a!)
  })

  it('keeps the newest rc and what another tag names, and deletes the rest with what is attached to it', async () => {
    const { target, calls } = tracking(store)
    const plan = await planRepository(target, { policy })
    expect(byTag(plan)).toEqual({ '1.0.0-rc.3': 'count', stable: 'unmatched' })
    // rc.2's digest is kept by `stable`: only the tag goes.
    expect(actions(plan)).toEqual({ '1.0.0-rc.1': 'delete-manifest', '1.0.0-rc.2': 'untag' })
    expect(plan.manifests.map((x) => [x.role, x.digest])).toEqual([
      ['image', m.a!.digest],
      ['cosign-tag', sig.digest],
      ['referrer', sbom.digest],
    ])
    expect(plan.needs).toEqual({ manifestDelete: true, tagDelete: true })
    expect(calls.calls.filter((c) => WRITES.includes(c.method))).toEqual([])
  })

  it('refuses to apply, before any change, on a store that allows no delete', async () => {
    const tmp = await tempDir('ferry-retention-unit-')
    try {
      const before = await store.listTags()
      const { target, calls } = tracking(withoutDeletes(store))
      const apply = applyRepository(target, {
        policy,
        backupDir: join(tmp.dir, 'backup'),
        stateDir: join(tmp.dir, 'state'),
      })
      await expect(apply).rejects.toMatchObject({ code: 'UNSUPPORTED' })
      expect(calls.count('deletes')).toBe(1)
      expect(calls.calls.filter((c) => WRITES.includes(c.method))).toEqual([])
      expect(await store.listTags()).toEqual(before)
    } finally {
      await tmp.remove()
    }
  })

  afterAll(async () => {
    await store.close()
  })
})

/**
 * `inner` as a store with deletes switched off (distribution's `storage.delete.enabled: false`), in
 * process: its deletes() says so; every other method is the store's own.
 */
function withoutDeletes(inner: Target): Target {
  return new Proxy(inner, {
    get(t, prop, receiver) {
      if (prop === 'deletes') return async () => ({ manifest: false, tag: false })
      const value = Reflect.get(t, prop, receiver)
      return typeof value === 'function' ? value.bind(t) : value
    },
  })
}
