import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { loadSyncSpec } from '../../src/spec/sync-spec.js'
import { expandSpec } from '../../src/sync/plan.js'
import { runSync } from '../../src/sync/sync.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { TargetSet } from '../../src/targets/open.js'
import { Limiter } from '../../src/util/limit.js'
import { ferry } from '../helpers/cli.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

const TAGS = 24

/**
 * Issue 30, goal 5: what a sync keeps per image for its whole run. The report's entries and the planned
 * items live to the end, one per image; V8 gave each one built as `{ ...base, key }` where `key` was
 * already in `base` a hidden class (and descriptor array) of its own, ~0.5 KiB an image on top of the
 * object itself. `%HaveSameMap` is V8's own test of that (natives syntax, allowed for this file).
 */
setFlagsFromString('--allow-natives-syntax')
const sameHiddenClass = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (
  a: object,
  b: object,
) => boolean

/** How many hidden classes a list of objects uses. */
function hiddenClasses(objects: object[]): number {
  const kinds: object[] = []
  for (const o of objects) if (!kinds.some((k) => sameHiddenClass(k, o))) kinds.push(o)
  return kinds.length
}

describe('sync: per-image memory', { timeout: 120_000 }, () => {
  let source: Distribution
  let dest: Distribution
  let dir: string
  let spec: string

  beforeAll(async () => {
    ;[source, dest] = await Promise.all([startDistribution(), startDistribution()])
    dir = await mkdtemp(join(tmpdir(), 'ferry-sync-memory-'))
    process.env.XDG_STATE_HOME = join(dir, 'state')
    const client = new RegistryClient()
    const repo = client.repository({ registry: source.host, repository: 'acme/app' })
    for (let i = 0; i < TAGS; i++)
      await pushSyntheticImage(repo, { seed: `memory-${i}`, layers: 1, layerSize: 512 }, `1.${i}.0`)
    await client.close()
    spec = join(dir, 'mirror.yaml')
    await writeFile(
      spec,
      [
        'version: 1',
        `target: ${dest.host}/mirror`,
        'images:',
        `  - source: ${source.host}/acme/app`,
        '    tags: { match: "*" }',
        '',
      ].join('\n'),
    )
  })
  afterAll(async () => {
    await Promise.all([source?.stop(), dest?.stop()])
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('plans items whose sources share one hidden class', async () => {
    const targets = new TargetSet(testContext())
    try {
      const expanded = await expandSpec(await loadSyncSpec(spec), targets, new Limiter(4))
      const items = expanded.flatMap((e) => ('item' in e ? [e.item] : []))
      expect(items).toHaveLength(TAGS)
      expect(hiddenClasses(items.map((i) => i.source))).toBeLessThanOrEqual(2)
    } finally {
      await targets.close()
    }
  })

  it('reports every image, the copied ones in entries of one hidden class', async () => {
    const report = await runSync(testContext(), spec, { concurrency: 2 })
    expect(report.totals).toMatchObject({ images: TAGS, copied: TAGS, failed: 0 })
    // The first few objects made at a site can differ while V8 warms it up; not one per image.
    expect(hiddenClasses(report.entries)).toBeLessThanOrEqual(3)
  })

  it('--json still lists every image, in sync on the second run', async () => {
    const r = await ferry(['sync', spec, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { entries: { source: string; status: string }[] }
    expect(report.entries.map((e) => e.status)).toEqual(Array(TAGS).fill('in-sync'))
    expect(new Set(report.entries.map((e) => e.source)).size).toBe(TAGS)
  })
})
