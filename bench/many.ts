// Many small images: `ferry sync` against `skopeo sync --all` and 50 × `skopeo copy --all`, same fixture,
// same run, each round into a freshly started destination. Wall time, and CPU of every process (the
// client, the source registry, the destination registry) read from /proc, medians of ROUNDS.
//   npm run build && npx tsx bench/many.ts
//   ROUNDS=5 npx tsx bench/many.ts
//   FERRY_PROF=/tmp/prof npx tsx bench/many.ts && npx tsx bench/profile-top.ts /tmp/prof/*.cpuprofile
//   FERRY_FLAGS='--concurrency 8 --blob-concurrency 16' npx tsx bench/many.ts   (extra ferry sync flags)
// Same work on every side: gzip layers, skopeo with --preserve-digests; the ratios are printed only
// once every tool's destination digests are found identical.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { type Distribution, startDistribution } from '../test/helpers/distribution.js'
import {
  assertSameDigests,
  childrenCpu,
  cpuOf,
  fmt,
  loadNote,
  median,
  ROOT,
  registryDigests,
  requestKinds,
  run,
  SKOPEO_SAME_WORK,
} from './lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const FERRY_FLAGS = (process.env.FERRY_FLAGS ?? '').split(' ').filter(Boolean)
const REPOS = 5
const TAGS = 10
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false']
interface Sample {
  wall: number
  client: number
  source: number
  dest: number
}

async function measure(source: Distribution, dest: Distribution, fn: () => Promise<unknown>) {
  const before = { client: childrenCpu(), source: cpuOf(source.pid), dest: cpuOf(dest.pid) }
  const start = performance.now()
  await fn()
  const wall = (performance.now() - start) / 1000
  return {
    wall,
    client: childrenCpu() - before.client,
    source: cpuOf(source.pid) - before.source,
    dest: cpuOf(dest.pid) - before.dest,
  }
}

/** FERRY_PROF=DIR: every ferry run writes a V8 CPU profile there (read it with bench/profile-top.ts). */
const PROF = process.env.FERRY_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.FERRY_PROF}`] : []
const ferryCli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [...PROF, join(ROOT, 'bin', 'run.js'), ...args], env)
const skopeo = (args: string[]) => run('skopeo', ['--insecure-policy', ...args])

async function fixture(source: Distribution): Promise<string[]> {
  const client = new RegistryClient()
  const refs: string[] = []
  for (let r = 0; r < REPOS; r++) {
    for (let t = 0; t < TAGS; t++) {
      const repo = `many/svc${r}`
      await pushSyntheticImage(
        client.repository({ registry: source.host, repository: repo }),
        { seed: `bench-many-${r}-${t}`, layers: 1 + ((r + t) % 3), layerSize: 64 * 1024, gzip: true },
        `1.${t}.0`,
      )
      refs.push(`${repo}:1.${t}.0`)
    }
  }
  await client.close()
  return refs
}

function syncSpec(source: string, dest: string): string {
  return [
    'version: 1',
    `target: ${dest}/mirror`,
    'defaults: { referrers: false }',
    'images:',
    ...Array.from({ length: REPOS }, (_, r) => [
      `  - source: ${source}/many/svc${r}`,
      '    tags: { match: "*" }',
    ]).flat(),
    '',
  ].join('\n')
}

/** ferry's --debug goes to stderr; `run` only returns stdout, so this one collects both. */
async function ferryDebug(args: string[]): Promise<string> {
  const { spawn } = await import('node:child_process')
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'run.js'), ...args, '--debug'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(err.slice(-2000)))))
  })
}

function printKinds(title: string, kinds: Map<string, number>, images: number) {
  const total = [...kinds.values()].reduce((a, b) => a + b, 0)
  console.log(`${title}: ${total} requests, ${fmt(total / images, 1)} per image`)
  for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${k.padEnd(18)} ${String(n).padStart(5)}  ${fmt(n / images, 2)}/image`)
  }
}

const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-many-'))
const stateHome = join(dir, 'state')
process.env.XDG_STATE_HOME = stateHome
const source = await startDistribution()
try {
  const refs = await fixture(source)
  const images = refs.length
  const specFile = join(dir, 'many.yaml')
  console.log(`${images} images in ${REPOS} repositories; ${(await run('skopeo', ['--version'])).trim()}`)

  const cases: Record<string, (dest: Distribution) => Promise<unknown>> = {
    'ferry sync': async () => ferryCli(['sync', specFile, '--json', ...FERRY_FLAGS]),
    'skopeo sync --all': async (dest) => {
      for (let r = 0; r < REPOS; r++) {
        await skopeo([
          'sync',
          '--all',
          ...SKOPEO_SAME_WORK,
          '--src',
          'docker',
          '--dest',
          'docker',
          ...TLS,
          `${source.host}/many/svc${r}`,
          `${dest.host}/mirror/many`,
        ])
      }
    },
    [`${images} × skopeo copy --all`]: async (dest) => {
      for (const ref of refs) {
        await skopeo([
          'copy',
          '--all',
          ...SKOPEO_SAME_WORK,
          ...TLS,
          `docker://${source.host}/${ref}`,
          `docker://${dest.host}/mirror/${ref}`,
        ])
      }
    },
  }
  const samples = new Map<string, Sample[]>(Object.keys(cases).map((k) => [k, []]))
  // Every destination's digests, by case: all must equal ferry's before a ratio means anything.
  const mirrored = refs.map((ref) => `mirror/${ref}`)
  const digests = new Map<string, Record<string, string>[]>(Object.keys(cases).map((k) => [k, []]))
  const resync: Sample[] = []
  let resyncKinds = new Map<string, number>()
  const names = Object.keys(cases)
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate which tool goes first, so none always meets the warmest caches.
    const order = names.map((_, i) => names[(i + round) % names.length]!)
    for (const name of order) {
      const dest = await startDistribution()
      try {
        await writeFile(specFile, syncSpec(source.host, dest.host))
        samples.get(name)!.push(await measure(source, dest, () => cases[name]!(dest)))
        digests.get(name)!.push(await registryDigests(dest.host, mirrored))
        if (name === 'ferry sync') {
          resync.push(
            await measure(source, dest, () => ferryCli(['sync', specFile, '--json', ...FERRY_FLAGS])),
          )
          if (round === 0)
            resyncKinds = requestKinds(await ferryDebug(['sync', specFile, '--json', ...FERRY_FLAGS]))
        }
      } finally {
        await dest.stop()
      }
    }
  }

  const reference = digests.get('ferry sync')![0]!
  for (const [name, all] of digests) for (const d of all) assertSameDigests(name, reference, d)
  console.log(
    `\ndestination digests: ${mirrored.length} references identical for every tool and round; ${loadNote()}`,
  )
  const med = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]))
  console.log(
    `\nmedians of ${ROUNDS} rounds (CPU seconds from /proc; 2 cores here: ${(await run('nproc', [])).trim()})`,
  )
  console.log(
    `${'client'.padEnd(26)} ${'wall'.padStart(7)} ${'client CPU'.padStart(11)} ${'source CPU'.padStart(11)} ${'dest CPU'.padStart(9)}`,
  )
  for (const [name, xs] of [...samples, ['ferry re-sync (in sync)', resync] as const]) {
    console.log(
      `${name.padEnd(26)} ${fmt(med(xs, 'wall')).padStart(6)}s ${fmt(med(xs, 'client')).padStart(10)}s ${fmt(med(xs, 'source')).padStart(10)}s ${fmt(med(xs, 'dest')).padStart(8)}s`,
    )
  }
  const f = samples.get('ferry sync')!
  const s = samples.get('skopeo sync --all')!
  const cores = Number((await run('nproc', [])).trim())
  const floor = Math.max(
    (med(f, 'client') + med(f, 'source') + med(f, 'dest')) / cores,
    med(f, 'client'),
    med(f, 'source'),
    med(f, 'dest'),
  )
  console.log('\nratios (goal)')
  console.log(
    `  ferry client CPU / skopeo sync client CPU  ${fmt(med(f, 'client') / med(s, 'client'))}  (≤ 1.0)`,
  )
  console.log(
    `  ferry wall / skopeo sync wall              ${fmt(med(f, 'wall') / med(s, 'wall'))}  (≤ 0.55)`,
  )
  console.log(`  ferry wall / machine floor (${fmt(floor)} s)     ${fmt(med(f, 'wall') / floor)}  (≤ 1.2)`)
  console.log(
    `  re-sync wall ${fmt(med(resync, 'wall'))} s (< 1 s), manifest GETs ${resyncKinds.get('GET manifest') ?? 0} (0)`,
  )

  // One more first sync, not timed: --debug lists every exchange.
  const dest = await startDistribution()
  try {
    await writeFile(specFile, syncSpec(source.host, dest.host))
    console.log('')
    printKinds(
      'first sync',
      requestKinds(await ferryDebug(['sync', specFile, '--json', ...FERRY_FLAGS])),
      images,
    )
    printKinds('re-sync', resyncKinds, images)
  } finally {
    await dest.stop()
  }
} finally {
  await source.stop()
  await rm(dir, { recursive: true, force: true })
}
