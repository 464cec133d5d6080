// Start-up: the CPU a command costs before it does any work. `ferry --version`, `ferry sync --help` and a
// no-op `ferry sync` of one image (already mirrored, referrers on) between two distribution registries on
// loopback, each the built CLI in its own process, in turn, ROUNDS times: medians of user+sys CPU (from
// this process's reaped children) and peak RSS. BASE=DIR measures another built checkout too (e.g. a
// worktree of main), alternating with this one in every round, so both see the same load.
//   npm run build && npx tsx bench/startup.ts
//   BASE=/tmp/main-build ROUNDS=9 npx tsx bench/startup.ts
//   FERRY_PROF=/tmp/prof npx tsx bench/startup.ts && npx tsx bench/profile-top.ts /tmp/prof/sync-*.cpuprofile
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { startDistribution } from '../test/helpers/distribution.js'
import { childrenCpu, fmt, loadNote, median, ROOT, run } from './lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 5)
const PROF = process.env.FERRY_PROF
const builds: [string, string][] = [
  ['this', ROOT],
  ...(process.env.BASE ? [['base', process.env.BASE] as [string, string]] : []),
]

interface Sample {
  cpu: number
  rssMiB: number
}

/** One run of a build's CLI: its CPU and peak RSS (bench/measure-rss.js reads it in the process). */
async function once(root: string, args: string[], profName: string): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-startup-'))
  const rssFile = join(dir, 'rss')
  const prof = PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`, `--cpu-prof-name=${profName}.cpuprofile`] : []
  const cpu0 = childrenCpu()
  await run(process.execPath, [...prof, join(ROOT, 'bench', 'measure-rss.js'), rssFile, ...args], {
    FERRY_BIN: join(root, 'bin', 'run.js'),
  })
  const cpu = childrenCpu() - cpu0
  const rssMiB = Number(await readFile(rssFile, 'utf8')) / 1024
  await rm(dir, { recursive: true, force: true })
  return { cpu, rssMiB }
}

const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-startup-'))
process.env.XDG_STATE_HOME = join(dir, 'state')
if (PROF) await mkdir(PROF, { recursive: true })
const [source, dest] = await Promise.all([startDistribution(), startDistribution()])
try {
  const client = new RegistryClient()
  await pushSyntheticImage(
    client.repository({ registry: source.host, repository: 'bench/one' }),
    { seed: 'startup', layers: 1, layerSize: 1024, gzip: true },
    '1.0.0',
  )
  await client.close()
  const spec = join(dir, 'sync.yaml')
  const yaml = [
    'version: 1',
    `target: ${dest.host}/mirror`,
    'images:',
    `  - source: ${source.host}/bench/one`,
  ]
  await writeFile(spec, `${[...yaml, '    tags: ["1.0.0"]'].join('\n')}\n`)
  // The first sync copies; every measured one finds the image in sync.
  await run(process.execPath, [join(ROOT, 'bin', 'run.js'), 'sync', spec])

  const cases: [string, string[]][] = [
    ['version', ['--version']],
    ['sync-help', ['sync', '--help']],
    ['sync', ['sync', spec]],
  ]
  const samples = new Map<string, Sample[]>()
  const load = [loadNote()]
  for (let round = 0; round < ROUNDS; round++)
    for (const [label, args] of cases)
      for (const [build, root] of round % 2 ? [...builds].reverse() : builds) {
        const key = `${build} ${label}`
        samples.set(key, [...(samples.get(key) ?? []), await once(root, args, `${label}-${build}-${round}`)])
      }
  load.push(loadNote())

  console.log(`ferry start-up, node ${process.version}, medians of ${ROUNDS} rounds`)
  console.log(`${load[0]} before, ${load[1]} after`)
  console.log('| command | build | CPU (user+sys) | min–max | peak RSS |')
  console.log('|---|---|---:|---:|---:|')
  for (const [label, args] of cases)
    for (const [build, root] of builds) {
      const s = samples.get(`${build} ${label}`)!
      const cpu = s.map((x) => x.cpu)
      const shown = args.map((a) => (a === spec ? 'SPEC' : a)).join(' ')
      console.log(
        `| \`ferry ${shown}\` | ${build === 'this' ? 'this' : root} | ${fmt(median(cpu))} s | ${fmt(Math.min(...cpu))}–${fmt(Math.max(...cpu))} s | ${fmt(median(s.map((x) => x.rssMiB)), 0)} MiB |`,
      )
    }
} finally {
  await Promise.all([source.stop(), dest.stop()])
  await rm(dir, { recursive: true, force: true })
}
