import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import type { ReadOnlyTarget, Target } from '../../../src/content/target.js'
import { closure } from '../../../src/graph/index.js'
import { openLayoutTarget } from '../../../src/layout/index.js'
import type { Digest } from '../../../src/oci/digest.js'
import type { Manifest } from '../../../src/oci/manifest.js'
import { type Policy, policySchema } from '../../../src/policy/index.js'
import { applyRepository, planRepository } from '../../../src/retention/index.js'
import {
  artifactFor,
  indexOf,
  pushImage,
  putManifest,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tempDir } from '../../supply/helpers.js'

/** A repository drawn at random: images, indexes over some of them, referrers, and tags that share digests. */
const world = fc.record({
  images: fc.integer({ min: 1, max: 6 }),
  indexes: fc.array(fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 3 }), { maxLength: 2 }),
  referrers: fc.array(fc.nat(7), { maxLength: 3 }),
  // Each tag names one of the manifests (images first, then indexes); rc tags are ranked by their number.
  rcTags: fc.array(fc.nat(7), { minLength: 1, maxLength: 8 }),
  otherTags: fc.array(fc.nat(7), { maxLength: 2 }),
  count: fc.integer({ min: 0, max: 4 }),
})

function policyOf(count: number): Policy {
  const file = policySchema.parse({
    version: 1,
    environments: [{ name: 'rc', match: { tags: { match: '*-rc.*' } }, retention: { keep: { count } } }],
  })
  return {
    ...file,
    path: 'property',
    environments: file.environments.map((e) => ({ ...e, keys: [], revoked: [] })),
    trust: { keys: [], revoked: [] },
  }
}

async function everythingReachable(target: ReadOnlyTarget, digest: string): Promise<string[]> {
  const c = await closure(target, await target.fetchManifest(digest), { referrers: true })
  return [...c.graph.manifests, ...c.graphs.flatMap((g) => g.manifests)].map((m) => m.digest)
}

/** Memory for many runs; a layout for fewer, since every write there is a synced file. */
const stores: { name: string; runs: number; open(dir: string): Promise<Target> }[] = [
  { name: 'memory', runs: 30, open: async () => new MemoryTarget('memory:app') },
  {
    name: 'an OCI layout',
    runs: 6,
    open: (dir) => openLayoutTarget(join(dir, 'layout'), { create: true, repository: 'app' }),
  },
]

describe.each(stores)('retention, for random repositories (fast-check, on $name)', (store) => {
  it('never deletes what a kept tag reaches, and apply does exactly what the plan says', async () => {
    await fc.assert(
      fc.asyncProperty(world, async (w) => {
        const tmp = await tempDir('ferry-retention-prop-')
        const target = await store.open(tmp.dir)
        try {
          const manifests: Manifest[] = []
          for (let i = 0; i < w.images; i++) {
            const image = syntheticImage({
              layerSizes: [16],
              platform: { os: 'linux', architecture: `a${i}` },
            })
            await pushImage(target, image)
            manifests.push(image.manifest)
          }
          for (const members of w.indexes) {
            const children = [...new Set(members.map((i) => i % w.images))].map((i) => ({
              manifest: manifests[i]!,
              platform: { os: 'linux', architecture: `a${i}` },
            }))
            const index = indexOf(children)
            // Tagged (and so kept, unmatched): an untagged index is invisible to a registry's tag listing.
            await putManifest(target, index, `index-${manifests.length}`)
            manifests.push(index)
          }
          for (const r of w.referrers) {
            const subject = manifests[r % manifests.length]!
            const art = artifactFor(
              { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.byteLength },
              'application/spdx+json',
            )
            await pushImage(target, art)
          }
          const tags = new Map<string, Manifest>()
          for (const [i, n] of w.rcTags.entries()) tags.set(`1.${i}.0-rc.1`, manifests[n % manifests.length]!)
          for (const [i, n] of w.otherTags.entries()) tags.set(`keep-${i}`, manifests[n % manifests.length]!)
          for (const [tag, m] of tags) await target.tag(m, tag)

          const policy = policyOf(w.count)
          const plan = await planRepository(target, { policy })
          const keptReach = new Set<string>()
          for (const k of plan.keep)
            for (const d of await everythingReachable(target, k.digest)) keptReach.add(d)
          // The plan deletes nothing a kept tag reaches, and each manifest once (an index child shared
          // by two deleted indexes, a child tagged on its own).
          expect(new Set(plan.manifests.map((m) => m.digest)).size).toBe(plan.manifests.length)
          for (const m of plan.manifests) expect(keptReach.has(m.digest), m.digest).toBe(false)
          const rcCount = [...tags.keys()].filter((t) => t.includes('-rc.')).length
          expect(plan.delete).toHaveLength(Math.max(0, rcCount - w.count))

          const result = await applyRepository(target, {
            policy,
            backupDir: join(tmp.dir, 'backup'),
            stateDir: join(tmp.dir, 'state'),
          })
          // What apply did is the plan: the tags that go are gone, every kept tag names what it named,
          // and everything those tags reach is still readable.
          expect(result.plan.delete.map((d) => d.tag).sort()).toEqual(plan.delete.map((d) => d.tag).sort())
          const left = new Set(await target.listTags())
          for (const d of plan.delete) expect(left.has(d.tag), d.tag).toBe(false)
          for (const k of plan.keep) expect((await target.resolve(k.tag)).digest).toBe(k.digest)
          for (const d of keptReach) expect(await target.hasManifest(d as Digest), d).toBe(true)
          for (const m of plan.manifests) expect(await target.hasManifest(m.digest), m.digest).toBe(false)
          expect(left.size).toBe(tags.size + w.indexes.length - plan.delete.length)
        } finally {
          await target.close()
          await tmp.remove()
        }
      }),
      { numRuns: store.runs },
    )
  }, 120_000)
})
