// Pull-through caches: first vs second pull through `ferry serve --upstream` and through distribution's
// own proxy mode (`proxy.remoteurl`), same machine, same run, against a direct pull from upstream.
//   npm run build && npx tsx bench/cache.ts
//   ROUNDS=3 BIG_MIB=1024 npx tsx bench/cache.ts
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { freePort, startDistribution } from '../test/helpers/distribution.js'
import { fmt, median, ROOT, skopeo } from './lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const BIG_MIB = Number(process.env.BIG_MIB ?? 1024)
const LAYERS = 8
const IMAGE = 'big/app:1.0'

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
async function startFerryMirror(upstream: string): Promise<{ host: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-mirror-'))
  const port = await freePort()
  const child: ChildProcess = spawn(
    process.execPath,
    [
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
  return { host: reg.host, stop: () => reg.stop() }
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
  const direct: number[] = []
  const runs = {
    ferry: { first: [] as number[], second: [] as number[] },
    dist: { first: [] as number[], second: [] as number[] },
  }
  try {
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(await pull(source.host))
      // Alternate which mirror goes first each round, so neither always gets the warmer page cache.
      const order = i % 2 === 0 ? (['ferry', 'dist'] as const) : (['dist', 'ferry'] as const)
      for (const which of order) {
        const mirror =
          which === 'ferry' ? await startFerryMirror(source.url) : await startDistributionMirror(source.url)
        try {
          runs[which].first.push(await pull(mirror.host))
          runs[which].second.push(await pull(mirror.host))
        } finally {
          await mirror.stop()
        }
      }
    }
  } finally {
    await source.stop()
  }
  const d = median(direct)
  const f1 = median(runs.ferry.first)
  const f2 = median(runs.ferry.second)
  const p1 = median(runs.dist.first)
  const p2 = median(runs.dist.second)
  console.log(`pull-through cache, ${BIG_MIB} MiB in ${LAYERS} layers, medians of ${ROUNDS} round(s)`)
  console.log(`direct pull from upstream          ${fmt(d)} s`)
  console.log(`ferry serve --upstream   first ${fmt(f1)} s  second ${fmt(f2)} s`)
  console.log(`distribution proxy mode  first ${fmt(p1)} s  second ${fmt(p2)} s`)
  console.log(`second pull: distribution / ferry = ${fmt(p2 / f2)}× (goal ≥ 1.2)`)
  console.log(`first pull: ferry / direct = ${fmt(f1 / d)} (goal ≤ 1.1)`)
}

await main()
