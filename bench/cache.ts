// Pull-through caches: first vs second pull through `ferry serve --upstream` and through distribution's
// own proxy mode (`proxy.remoteurl`), same machine, same run, against a direct pull from upstream.
//   npm run build && npx tsx bench/cache.ts
//   ROUNDS=3 BIG_MIB=1024 npx tsx bench/cache.ts
//   FERRY_PROF=/tmp/prof BIG_MIB=256 ROUNDS=1 npx tsx bench/cache.ts
//   UPSTREAM_MBIT=400 npx tsx bench/cache.ts   (as root: upstream behind a 400 Mbit/s link, see below)
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import {
  type Distribution,
  freePort,
  type LoggedRequest,
  startDistribution,
} from '../test/helpers/distribution.js'
import { assertSameDigests, childrenCpu, cpuOf, fmt, median, ROOT, run, skopeo } from './lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const BIG_MIB = Number(process.env.BIG_MIB ?? 1024)
const LAYERS = 8
const IMAGE = 'big/app:1.0'
/** FERRY_PROF=DIR: ferry serve writes a V8 CPU profile there (read it with bench/profile-top.ts). */
const PROF = process.env.FERRY_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.FERRY_PROF}`] : []
/**
 * UPSTREAM_MBIT=N: everything upstream sends (to skopeo on a direct pull, to the mirrors on a first
 * pull) goes through an N Mbit/s link, as when upstream is a remote registry; mirror to skopeo stays
 * loopback speed. Shaped with `tc` on `lo` (needs root), removed at the end.
 */
const UPSTREAM_MBIT = process.env.UPSTREAM_MBIT ? Number(process.env.UPSTREAM_MBIT) : undefined

interface PullCost {
  wall: number
  /** CPU seconds of skopeo, of the upstream registry and of the mirror (0 for a direct pull). */
  client: number
  upstream: number
  mirror: number
  /** MiB upstream sent, counted by the shaped link (only with UPSTREAM_MBIT). */
  sentMiB: number
  /** The requests upstream answered for this pull, by kind (`GET blob`, `HEAD manifest`, `GET /v2/`). */
  requests: Record<string, number>
  /** What the client pulled: see pulledDigests. */
  digests: Record<string, string>
}

const kindOf = (r: LoggedRequest) =>
  `${r.method} ${r.uri === '/v2/' ? '/v2/' : (/\/(blobs|manifests)\//.exec(r.uri)?.[1]?.replace(/s$/, '') ?? r.uri)}`

/**
 * What upstream answered since `from`, once it stopped: distribution's proxy goes on fetching after its
 * client is served, and those requests belong to the pull that caused them.
 */
async function settledRequests(
  source: Distribution,
  from: number,
): Promise<{ requests: Record<string, number>; sent: number }> {
  let last = ''
  for (let i = 0; i < 60; i++) {
    const now = `${source.requests().length} ${await linkBytes()}`
    if (now === last) break
    last = now
    await new Promise((r) => setTimeout(r, 500))
  }
  const requests: Record<string, number> = {}
  for (const r of source.requests().slice(from)) requests[kindOf(r)] = (requests[kindOf(r)] ?? 0) + 1
  return { requests, sent: await linkBytes() }
}

/** Bytes that went through the shaped link so far (0 when there is none). */
async function linkBytes(): Promise<number> {
  if (!UPSTREAM_MBIT) return 0
  const stats = await run('tc', ['-s', 'class', 'show', 'dev', 'lo', 'classid', '1:20'])
  return Number(/Sent (\d+) bytes/.exec(stats)?.[1] ?? Number.NaN)
}

/** A pull's wall time, the CPU every process spent on it, and what upstream answered for it. */
async function measuredPull(host: string, source: Distribution, mirrorPid?: number): Promise<PullCost> {
  const before = {
    client: childrenCpu(),
    upstream: cpuOf(source.pid),
    mirror: mirrorPid ? cpuOf(mirrorPid) : 0,
    sent: await linkBytes(),
    requests: source.requests().length,
  }
  const { wall, digests } = await pull(host)
  const cpu = {
    client: childrenCpu() - before.client,
    upstream: cpuOf(source.pid) - before.upstream,
    mirror: mirrorPid ? cpuOf(mirrorPid) - before.mirror : 0,
  }
  const { requests, sent } = await settledRequests(source, before.requests)
  return { wall, ...cpu, sentMiB: (sent - before.sent) / 2 ** 20, requests, digests }
}

/** `skopeo copy` into a fresh oci: directory (removed after), timed; with the digests it pulled. */
async function pull(host: string): Promise<{ wall: number; digests: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-pull-'))
  try {
    const { seconds } = await skopeo([
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${host}/${IMAGE}`,
      `oci:${dir}:x`,
    ])
    return { wall: seconds, digests: await pulledDigests(dir) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * The manifest's digest and each blob's, as the client wrote them: every file hashed here, not taken
 * from the names the files were given, so two mirrors that served different bytes never compare equal.
 */
async function pulledDigests(dir: string): Promise<Record<string, string>> {
  const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
  const file = (digest: string) => readFile(join(dir, 'blobs', ...digest.split(':')))
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string }[]
  }
  const manifestBytes = await file(index.manifests[0]!.digest)
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as {
    config: { digest: string }
    layers: { digest: string }[]
  }
  const digests: Record<string, string> = {
    manifest: sha256(manifestBytes),
    config: sha256(await file(manifest.config.digest)),
  }
  for (const [i, layer] of manifest.layers.entries()) digests[`layer ${i}`] = sha256(await file(layer.digest))
  return digests
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

/** Rate-limits what leaves `port` on the loopback interface (an htb class for that source port). */
async function shapeFrom(port: number, mbit: number): Promise<() => Promise<unknown>> {
  const tc = (...args: string[]) => run('tc', args)
  await tc('qdisc', 'add', 'dev', 'lo', 'root', 'handle', '1:', 'htb')
  const remove = () => tc('qdisc', 'del', 'dev', 'lo', 'root')
  try {
    await tc('class', 'add', 'dev', 'lo', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', `${mbit}mbit`)
    await tc(
      ...['filter', 'add', 'dev', 'lo', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32'],
      ...['match', 'ip', 'sport', String(port), '0xffff', 'flowid', '1:20'],
    )
  } catch (err) {
    await remove()
    throw err
  }
  return remove
}

async function main() {
  const source = await startDistribution({ requestLog: true })
  const client = new RegistryClient()
  await pushSyntheticImage(
    client.repository({ registry: source.host, repository: 'big/app' }),
    { seed: 'bench-cache', layers: LAYERS, layerSize: (BIG_MIB * 1024 * 1024) / LAYERS },
    '1.0',
  )
  await client.close()
  const unshape = UPSTREAM_MBIT
    ? await shapeFrom(Number(new URL(source.url).port), UPSTREAM_MBIT)
    : async () => {}
  // `finally` does not run on Ctrl-C: the shaping would stay on the machine's loopback interface.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void unshape().finally(() => process.exit(130))
    })
  }
  const rows: Record<string, PullCost[]> = {
    'direct pull': [],
    'ferry first': [],
    'ferry second': [],
    'distribution first': [],
    'distribution second': [],
  }
  try {
    for (let i = 0; i < ROUNDS; i++) {
      rows['direct pull']!.push(await measuredPull(source.host, source))
      // Alternate which mirror goes first each round, so neither always gets the warmer page cache.
      const order = i % 2 === 0 ? (['ferry', 'distribution'] as const) : (['distribution', 'ferry'] as const)
      for (const which of order) {
        const mirror =
          which === 'ferry' ? await startFerryMirror(source.url) : await startDistributionMirror(source.url)
        try {
          rows[`${which} first`]!.push(await measuredPull(mirror.host, source, mirror.pid))
          rows[`${which} second`]!.push(await measuredPull(mirror.host, source, mirror.pid))
        } finally {
          await mirror.stop()
        }
      }
    }
  } finally {
    await unshape()
    await source.stop()
  }
  // A ratio only for the same work: both mirrors served the very bytes of the same image, every round.
  for (const pull of ['first', 'second']) {
    const ferry = rows[`ferry ${pull}`]!
    const distribution = rows[`distribution ${pull}`]!
    for (const [i, cost] of ferry.entries()) {
      const what = `round ${i + 1}, ${pull} pull: ferry's mirror (as "ferry") against distribution's proxy (as "skopeo")`
      const n = assertSameDigests(what, cost.digests, distribution[i]!.digests)
      if (i === 0)
        console.log(`${pull} pulls: ferry's mirror and distribution's proxy served the same ${n} digests`)
    }
  }
  const med = (name: string, key: Exclude<keyof PullCost, 'requests' | 'digests'>) =>
    median(rows[name]!.map((c) => c[key]))
  const link = UPSTREAM_MBIT ? `, upstream behind a ${UPSTREAM_MBIT} Mbit/s link` : ', all on loopback'
  console.log(`pull-through cache, ${BIG_MIB} MiB in ${LAYERS} layers${link}, medians of ${ROUNDS} round(s)`)
  console.log('CPU seconds from /proc: skopeo, the upstream registry, the mirror')
  const sent = (name: string) => (UPSTREAM_MBIT ? `${fmt(med(name, 'sentMiB'), 0)} MiB`.padStart(15) : '')
  console.log(
    `${'pull'.padEnd(22)}${'wall'.padStart(8)}${'skopeo'.padStart(8)}${'upstream'.padStart(10)}${'mirror'.padStart(8)}` +
      (UPSTREAM_MBIT ? 'upstream sent'.padStart(15) : ''),
  )
  for (const name of Object.keys(rows)) {
    const cells = [med(name, 'wall'), med(name, 'client'), med(name, 'upstream'), med(name, 'mirror')]
    console.log(
      `${name.padEnd(22)}${`${fmt(cells[0]!)}s`.padStart(8)}${`${fmt(cells[1]!)}s`.padStart(8)}` +
        `${`${fmt(cells[2]!)}s`.padStart(10)}${`${fmt(cells[3]!)}s`.padStart(8)}${sent(name)}`,
    )
  }
  console.log('requests upstream answered per pull (median of each kind):')
  for (const name of Object.keys(rows)) {
    const kinds = [...new Set(rows[name]!.flatMap((c) => Object.keys(c.requests)))].sort()
    const counts = kinds.map((k) => `${k} ${median(rows[name]!.map((c) => c.requests[k] ?? 0))}`)
    console.log(`  ${name.padEnd(22)}${counts.join(', ') || 'none'}`)
  }
  const d = med('direct pull', 'wall')
  console.log(
    `second pull: distribution / ferry = ${fmt(med('distribution second', 'wall') / med('ferry second', 'wall'))}× (goal ≥ 1.2)`,
  )
  console.log(`first pull: ferry / direct = ${fmt(med('ferry first', 'wall') / d)} (goal ≤ 1.1)`)
  console.log(`first pull: distribution / direct = ${fmt(med('distribution first', 'wall') / d)}`)
}

await main()
