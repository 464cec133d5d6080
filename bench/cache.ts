// Pull-through caches: first vs second pull through `ferry serve --upstream` and through distribution's
// own proxy mode (`proxy.remoteurl`), same machine, same run, against a direct pull from upstream.
//   npm run build && npx tsx bench/cache.ts
//   ROUNDS=3 BIG_MIB=1024 npx tsx bench/cache.ts
//   FERRY_PROF=/tmp/prof BIG_MIB=256 ROUNDS=1 npx tsx bench/cache.ts
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { freePort, startDistribution } from '../test/helpers/distribution.js'
import { childrenCpu, cpuOf, fmt, median, ROOT, skopeo } from './lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const BIG_MIB = Number(process.env.BIG_MIB ?? 1024)
const LAYERS = 8
const IMAGE = 'big/app:1.0'
/** FERRY_PROF=DIR: ferry serve writes a V8 CPU profile there (read it with bench/profile-top.ts). */
const PROF = process.env.FERRY_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.FERRY_PROF}`] : []

interface PullCost {
  wall: number
  /** CPU seconds of skopeo, of the upstream registry and of the mirror (0 for a direct pull). */
  client: number
  upstream: number
  mirror: number
}

/** A pull's wall time and the CPU every process spent on it. */
async function measuredPull(host: string, upstreamPid: number, mirrorPid?: number): Promise<PullCost> {
  const before = {
    client: childrenCpu(),
    upstream: cpuOf(upstreamPid),
    mirror: mirrorPid ? cpuOf(mirrorPid) : 0,
  }
  const wall = await pull(host)
  return {
    wall,
    client: childrenCpu() - before.client,
    upstream: cpuOf(upstreamPid) - before.upstream,
    mirror: mirrorPid ? cpuOf(mirrorPid) - before.mirror : 0,
  }
}

/** `skopeo copy` into a fresh oci: directory (removed after), timed. */
async function pull(host: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-pull-'))
  try {
    const { seconds } = await skopeo([
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${host}/${IMAGE}`,
      `oci:${dir}:x`,
    ])
    return seconds
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The built CLI as a user runs it: `ferry serve --root DIR --upstream URL`, until it says it listens. */
async function startFerryMirror(
  upstream: string,
): Promise<{ host: string; pid: number; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-mirror-'))
  const port = await freePort()
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...PROF,
      join(ROOT, 'bin', 'run.js'),
      'serve',
      '--root',
      join(dir, 'root'),
      '--port',
      String(port),
      '--upstream',
      upstream,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  await new Promise<void>((resolve, reject) => {
    let err = ''
    child.stderr!.on('data', (d) => {
      err += d
      if (err.includes('listening on')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`ferry serve exited ${code}: ${err}`)))
  })
  return {
    host: `127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    },
  }
}

async function startDistributionMirror(upstream: string) {
  const reg = await startDistribution({ proxyRemoteUrl: upstream })
  return { host: reg.host, pid: reg.pid, stop: () => reg.stop() }
}

async function main() {
  const source = await startDistribution()
  const client = new RegistryClient()
  await pushSyntheticImage(
    client.repository(source.host, 'big/app'),
    { seed: 'bench-cache', layers: LAYERS, layerSize: (BIG_MIB * 1024 * 1024) / LAYERS },
    '1.0',
  )
  await client.close()
  const rows: Record<string, PullCost[]> = {
    'direct pull': [],
    'ferry first': [],
    'ferry second': [],
    'distribution first': [],
    'distribution second': [],
  }
  try {
    for (let i = 0; i < ROUNDS; i++) {
      rows['direct pull']!.push(await measuredPull(source.host, source.pid))
      // Alternate which mirror goes first each round, so neither always gets the warmer page cache.
      const order = i % 2 === 0 ? (['ferry', 'distribution'] as const) : (['distribution', 'ferry'] as const)
      for (const which of order) {
        const mirror =
          which === 'ferry' ? await startFerryMirror(source.url) : await startDistributionMirror(source.url)
        try {
          rows[`${which} first`]!.push(await measuredPull(mirror.host, source.pid, mirror.pid))
          rows[`${which} second`]!.push(await measuredPull(mirror.host, source.pid, mirror.pid))
        } finally {
          await mirror.stop()
        }
      }
    }
  } finally {
    await source.stop()
  }
  const med = (name: string, key: keyof PullCost) => median(rows[name]!.map((c) => c[key]))
  console.log(`pull-through cache, ${BIG_MIB} MiB in ${LAYERS} layers, medians of ${ROUNDS} round(s)`)
  console.log('CPU seconds from /proc: skopeo, the upstream registry, the mirror')
  console.log(
    `${'pull'.padEnd(22)}${'wall'.padStart(8)}${'skopeo'.padStart(8)}${'upstream'.padStart(10)}${'mirror'.padStart(8)}`,
  )
  for (const name of Object.keys(rows)) {
    const cells = [med(name, 'wall'), med(name, 'client'), med(name, 'upstream'), med(name, 'mirror')]
    console.log(
      `${name.padEnd(22)}${`${fmt(cells[0]!)}s`.padStart(8)}${`${fmt(cells[1]!)}s`.padStart(8)}` +
        `${`${fmt(cells[2]!)}s`.padStart(10)}${`${fmt(cells[3]!)}s`.padStart(8)}`,
    )
  }
  const d = med('direct pull', 'wall')
  console.log(
    `second pull: distribution / ferry = ${fmt(med('distribution second', 'wall') / med('ferry second', 'wall'))}× (goal ≥ 1.2)`,
  )
  console.log(`first pull: ferry / direct = ${fmt(med('ferry first', 'wall') / d)} (goal ≤ 1.1)`)
  console.log(`first pull: distribution / direct = ${fmt(med('distribution first', 'wall') / d)}`)
}

await main()
