// Where one `ferry copy` of the big image (registry → registry) spends its CPU, by phase, beside the
// floors of this machine for the same bytes:
//   npm run build && npx tsx bench/copy-profile.ts        (BIG_MIB=1024, ROUNDS=1 by default)
//   BEFORE=/path/to/other/checkout npx tsx bench/copy-profile.ts   (also profiles that build's CLI,
//   alternating with this one each round, for a before/after from one run; AFTER=DIR profiles that
//   checkout instead of this one; FLOORS=0 skips the floors)
// Each round copies into a freshly started registry under `node --cpu-prof --trace-gc`; the profile's
// self time is summed per phase (see `phaseOf`), GC pauses are read from --trace-gc, and the client's,
// source registry's and destination registry's CPU come from /proc.
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { z } from 'zod'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { startDistribution } from '../test/helpers/distribution.js'
import { childrenCpu, cpuOf, fmt, loadNote, median, ROOT, run, time } from './lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 1)
const BIG_MIB = Number(process.env.BIG_MIB ?? 1024)
const LAYERS = 8

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
})

type Frame = { functionName: string; url: string }

/**
 * The phase a sample's leaf frame belongs to. Native work shows as the JS function that called it
 * (`update` for a hash, `writev` for a socket write), and anonymous natives as their JS parent.
 */
export function phaseOf(f: Frame, parent?: Frame): string {
  const { functionName: fn, url } = f
  if (fn === '(garbage collector)') return 'GC (main thread)'
  if (fn === '(idle)') return 'idle (waiting on sockets)'
  if (fn === '(program)') return 'native, unattributed (program)'
  if (url.includes('internal/crypto/hash') || (/^(update|digest|copy)$/.test(fn) && url.includes('crypto')))
    return 'hashing'
  if (
    /^(writev|writeBuffer|writeGeneric|writevGeneric|writeLatin1String|writeUtf8String|handleWriteReq)$/.test(
      fn,
    )
  )
    return 'socket writes (syscalls)'
  if (url.includes('undici') && /client-h1|request\.js|util\.js/.test(url) && /write|Write/.test(fn))
    return 'socket writes (undici)'
  if (
    /^(onStreamRead|readStart|readStop)$/.test(fn) ||
    url.includes('llhttp') ||
    (url.includes('undici') && /onBody|execute|onData|readMore|resume|consume/.test(fn))
  )
    return 'socket reads (parser, undici body)'
  if (url.includes('undici')) return 'undici, other'
  if (url.includes('zod')) return 'zod'
  if (
    url.includes('internal/streams') ||
    url.includes('node:stream') ||
    /Readable|Writable|Transform|PassThrough/.test(fn)
  )
    return 'stream hops'
  if (
    /processTicksAndRejections|runMicrotasks|AsyncGenerator|next|^from$/.test(fn) ||
    url.includes('internal/process/task_queues')
  )
    return 'promises, async iterators, ticks'
  if (/concat|subarray|slice|copy|allocUnsafe/.test(fn) && (url.includes('buffer') || url === ''))
    return 'Buffer copies'
  if (url.includes('/dist/') || url.includes('/src/')) return 'ferry code'
  if (url.includes('node:internal/modules') || /compile|wrapSafe/.test(fn)) return 'module loading'
  if (parent && fn === '' && url === '') return phaseOf(parent)
  return url === '' ? `native: ${fn || '(anonymous)'}` : 'node internals, other'
}

function phases(json: string): Map<string, number> {
  const p = profileSchema.parse(JSON.parse(json))
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parentOf = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id)
  const out = new Map<string, number>()
  p.samples.forEach((id, i) => {
    const node = byId.get(id)!
    const parent = byId.get(parentOf.get(id) ?? -1)
    const phase = phaseOf(node.callFrame, parent?.callFrame)
    out.set(phase, (out.get(phase) ?? 0) + (p.timeDeltas[i] ?? 0) / 1e6)
  })
  return out
}

/** Sum of --trace-gc pause times (main thread), by kind. */
function gcPauses(log: string): { scavenge: number; markSweep: number; count: number } {
  let scavenge = 0
  let markSweep = 0
  let count = 0
  for (const m of log.matchAll(
    /(Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*?, ([\d.]+) \/ [\d.]+ ms/g,
  )) {
    count++
    if (m[1] === 'Scavenge') scavenge += Number(m[2]) / 1000
    else markSweep += Number(m[2]) / 1000
  }
  return { scavenge, markSweep, count }
}

/** Runs a child to completion, returning its stdout+stderr, CPU and wall. */
async function timedChild(cmd: string, args: string[]) {
  const cpu0 = childrenCpu()
  let out = ''
  const seconds = await time(
    () =>
      new Promise<void>((resolve, reject) => {
        const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
        c.stdout.on('data', (d) => {
          out += d
        })
        c.stderr.on('data', (d) => {
          out += d
        })
        c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd}: ${out.slice(-2000)}`))))
      }),
  )
  return { out, seconds, cpu: childrenCpu() - cpu0 }
}

async function floors(srcHost: string, digest: string, size: number) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-floor-'))
  try {
    const file = join(dir, 'one-gib')
    await run('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', 'count=1024', 'status=none'])
    const sha = await timedChild('sha256sum', [file])
    const nodeHash = await timedChild(process.execPath, [
      '-e',
      `const h=require('crypto').createHash('sha256');const b=require('crypto').randomBytes(1<<20);for(let i=0;i<1024;i++)h.update(b);h.digest('hex')`,
    ])
    const nodeStart = await timedChild(process.execPath, ['-e', ''])
    const curl = await timedChild('curl', [
      '-s',
      '-o',
      '/dev/null',
      `http://${srcHost}/v2/big/app/blobs/${digest}`,
    ])
    console.log('\nfloors on this machine (CPU seconds of the process)')
    console.log(`  sha256sum of 1 GiB (file in page cache)            ${fmt(sha.cpu)} s`)
    console.log(
      `  node createHash('sha256') over 1 GiB, 1 MiB chunks ${fmt(nodeHash.cpu - nodeStart.cpu)} s (start-up ${fmt(nodeStart.cpu)} s taken off)`,
    )
    console.log(
      `  curl GET of one ${fmt(size / 2 ** 20, 0)} MiB blob to /dev/null (client)    ${fmt(curl.cpu)} s, ${fmt(curl.seconds)} s wall`,
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const source = await startDistribution()
const client = new RegistryClient()
const image = await pushSyntheticImage(
  client.repository({ registry: source.host, repository: 'big/app' }),
  { seed: 'bench-big', layers: LAYERS, layerSize: (BIG_MIB * 1024 * 1024) / LAYERS, gzip: true },
  '1.0',
)
await client.close()
if (image.kind !== 'image') throw new Error('expected an image manifest')
const layer = image.image.layers[0]!
const src = `${source.host}/big/app:1.0`
const work = await mkdtemp(join(tmpdir(), 'ferry-copy-profile-'))
process.env.XDG_STATE_HOME = join(work, 'state')
console.log(
  `ferry copy, ${BIG_MIB} MiB in ${LAYERS} gzip layers, registry → registry, ${ROUNDS} round(s); ${loadNote()}`,
)
type Row = {
  wall: number
  client: number
  src: number
  dst: number
  sampled: Map<string, number>
  gc: ReturnType<typeof gcPauses>
  rss: number
}

/** One profiled copy by the CLI of checkout `root` into a freshly started registry. */
async function profiledCopy(root: string, tag: string): Promise<Row> {
  const dst = await startDistribution()
  const prof = join(work, `prof-${tag}`)
  const rssFile = join(work, `rss-${tag}`)
  try {
    const s0 = cpuOf(source.pid)
    const d0 = cpuOf(dst.pid)
    const r = await timedChild(process.execPath, [
      '--cpu-prof',
      `--cpu-prof-dir=${prof}`,
      '--trace-gc',
      join(root, 'bench', 'measure-rss.js'),
      rssFile,
      'copy',
      src,
      `${dst.host}/big/app:1.0`,
    ])
    const s1 = cpuOf(source.pid)
    const d1 = cpuOf(dst.pid)
    const [file] = await readdir(prof)
    return {
      wall: r.seconds,
      client: r.cpu,
      src: s1 - s0,
      dst: d1 - d0,
      sampled: phases(await readFile(join(prof, file!), 'utf8')),
      gc: gcPauses(r.out),
      rss: Number(await readFile(rssFile, 'utf8')) / 1024,
    }
  } finally {
    await dst.stop()
  }
}

function print(name: string, rows: Row[]) {
  const med = (f: (r: Row) => number) => median(rows.map(f))
  console.log(
    `\n${name}: wall ${fmt(med((r) => r.wall))} s; CPU seconds: client ${fmt(med((r) => r.client))}, source registry ${fmt(med((r) => r.src))}, destination registry ${fmt(med((r) => r.dst))}; client peak RSS ${fmt(Math.max(...rows.map((r) => r.rss)), 0)} MiB`,
  )
  const keys = new Set(rows.flatMap((r) => [...r.sampled.keys()]))
  const total = med((r) => [...r.sampled.values()].reduce((a, b) => a + b, 0))
  console.log(`main thread, ${fmt(total)} s sampled (median per phase):`)
  for (const [k, v] of [...keys]
    .map((k) => [k, med((r) => r.sampled.get(k) ?? 0)] as const)
    .sort((a, b) => b[1] - a[1]))
    if (v >= 0.005) console.log(`  ${fmt(v).padStart(6)} s  ${k}`)
  console.log(
    `GC pauses (--trace-gc, main thread): ${fmt(
      med((r) => r.gc.count),
      0,
    )} collections, scavenges ${fmt(med((r) => r.gc.scavenge))} s, mark-compact ${fmt(med((r) => r.gc.markSweep))} s`,
  )
}

try {
  const builds: [string, string][] = [['this build', process.env.AFTER ?? ROOT]]
  if (process.env.BEFORE) builds.unshift(['before', process.env.BEFORE])
  const rows = new Map<string, Row[]>(builds.map(([name]) => [name, []]))
  for (let i = 0; i < ROUNDS; i++) {
    // Alternating which goes first, so neither always meets the warmer page cache.
    for (const [name, root] of i % 2 ? [...builds].reverse() : builds)
      rows.get(name)!.push(await profiledCopy(root, `${name.replace(/\W/g, '')}-${i}`))
  }
  console.log('(the client runs under --cpu-prof and --trace-gc: a few percent more than without)')
  for (const [name] of builds) print(name, rows.get(name)!)
  console.log(
    `profiles kept with KEEP=1 in ${work}; top frames: npx tsx bench/profile-top.ts DIR/*.cpuprofile`,
  )
  if (process.env.FLOORS !== '0') await floors(source.host, layer.digest, layer.size)
  console.log(`\n${loadNote()}`)
} finally {
  await source.stop()
  if (!process.env.KEEP) await rm(work, { recursive: true, force: true })
}
