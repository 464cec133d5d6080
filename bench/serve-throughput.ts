/**
 * Blob throughput of `ferry serve` against the CNCF distribution registry on the same machine.
 *
 *   npx tsx bench/serve-throughput.ts [--blobs 8] [--mib 64] [--rounds 3]
 *
 * Each round pushes BLOBS fresh incompressible blobs of MIB MiB to both registries, then pulls them back
 * (GET, body read to the end), one blob at a time. Two push flows: PUT (POST, then one monolithic
 * PUT ?digest= with the body) and PATCH (POST, the whole body in one PATCH, then an empty PUT ?digest=,
 * as skopeo and go-containerregistry push). The order of the two registries alternates between rounds. Prints MiB/s per round, the medians, and
 * ferry/distribution ratios (above 1: ferry is faster).
 *
 * ferry runs in a child process, like distribution: in this process it would share one event loop with
 * the benchmark's own HTTP client and be charged for the client's work.
 */
import { spawn } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { startDistribution } from '../test/helpers/distribution.js'

const { values } = parseArgs({
  options: {
    blobs: { type: 'string', default: '8' },
    mib: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
  },
})
const BLOBS = Number(values.blobs)
const MIB = Number(values.mib)
const ROUNDS = Number(values.rounds)
const REPO = 'bench/blobs'

/** Incompressible, reproducible bytes (AES-CTR keystream), distinct per round and blob. */
function blob(round: number, i: number, flow: string): Blob {
  const key = createHash('sha256').update(`bench/${flow}/${round}/${i}`).digest().subarray(0, 16)
  const bytes = createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(MIB * 1024 * 1024))
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` }
}

type Blob = { bytes: Buffer; digest: string }

async function push(base: string, b: Blob, flow: 'put' | 'patch'): Promise<void> {
  const start = await request(`${base}/v2/${REPO}/blobs/uploads/`, { method: 'POST' })
  await start.body.dump()
  if (start.statusCode !== 202) throw new Error(`${base}: POST ${start.statusCode}`)
  let location = new URL(String(start.headers.location), base)
  const octets = { 'content-type': 'application/octet-stream', 'content-length': String(b.bytes.byteLength) }
  if (flow === 'patch') {
    const patch = await request(location, {
      method: 'PATCH',
      body: b.bytes,
      headers: { ...octets, 'content-range': `0-${b.bytes.byteLength - 1}` },
    })
    await patch.body.dump()
    if (patch.statusCode !== 202) throw new Error(`${base}: PATCH ${patch.statusCode}`)
    location = new URL(String(patch.headers.location), base)
  }
  location.searchParams.set('digest', b.digest)
  const put = await request(location, {
    method: 'PUT',
    ...(flow === 'put' ? { body: b.bytes, headers: octets } : {}),
  })
  await put.body.dump()
  if (put.statusCode !== 201) throw new Error(`${base}: PUT ${put.statusCode}`)
}

async function pull(base: string, b: Blob): Promise<void> {
  const res = await request(`${base}/v2/${REPO}/blobs/${b.digest}`)
  let size = 0
  for await (const chunk of res.body) size += (chunk as Buffer).byteLength
  if (res.statusCode !== 200 || size !== b.bytes.byteLength) {
    throw new Error(`${base}: GET ${res.statusCode}, ${size} bytes`)
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now()
  await fn()
  const seconds = (performance.now() - t) / 1000
  return (BLOBS * MIB) / seconds
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (x: number) => x.toFixed(0).padStart(6)

/** `startServer` in a child node (sources through tsx); resolves once it prints its URL. */
async function startFerry(root: string): Promise<{ url: string; stop(): Promise<void> }> {
  const server = new URL('../src/serve/index.ts', import.meta.url).pathname
  const entry = `import { startServer } from ${JSON.stringify(server)}
const s = await startServer({ root: ${JSON.stringify(root)}, port: 0 })
console.log(s.url)
process.once('SIGTERM', () => s.close())`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry], {
    cwd: new URL('..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (d) => resolve(String(d).trim()))
    child.once('exit', (code) => reject(new Error(`ferry exited with ${code}`)))
  })
  return {
    url,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}

const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-'))
const ferry = await startFerry(join(dir, 'root'))
const distribution = await startDistribution()
const METRICS = ['PUT', 'PATCH', 'GET'] as const
type Metric = (typeof METRICS)[number]
const servers = [
  { name: 'ferry', url: ferry.url, rates: { PUT: [], PATCH: [], GET: [] } as Record<Metric, number[]> },
  {
    name: 'distribution',
    url: distribution.url,
    rates: { PUT: [], PATCH: [], GET: [] } as Record<Metric, number[]>,
  },
]
const line = (pick: (s: (typeof servers)[0], m: Metric) => number) =>
  servers.map((s) => `${s.name} ${METRICS.map((m) => `${m} ${fmt(pick(s, m))}`).join(' ')}`).join(' | ')
try {
  console.log(`${BLOBS} blobs × ${MIB} MiB, ${ROUNDS} rounds, one request at a time (MiB/s)`)
  for (let round = 0; round < ROUNDS; round++) {
    const blobs = { put: [] as Blob[], patch: [] as Blob[] }
    for (let i = 0; i < BLOBS; i++) {
      blobs.put.push(blob(round, i, 'put'))
      blobs.patch.push(blob(round, i, 'patch'))
    }
    const order = round % 2 === 0 ? servers : [...servers].reverse()
    const runs: [Metric, (url: string, b: Blob) => Promise<void>, Blob[]][] = [
      ['PUT', (url, b) => push(url, b, 'put'), blobs.put],
      ['PATCH', (url, b) => push(url, b, 'patch'), blobs.patch],
      ['GET', pull, blobs.put],
    ]
    for (const [metric, fn, list] of runs) {
      for (const s of order) {
        s.rates[metric].push(
          await timed(async () => {
            for (const b of list) await fn(s.url, b)
          }),
        )
      }
    }
    console.log(`round ${round + 1}: ${line((s, m) => s.rates[m].at(-1)!)}`)
  }
  console.log(`median:  ${line((s, m) => median(s.rates[m]))}`)
  const [f, d] = servers as [(typeof servers)[0], (typeof servers)[0]]
  const ratios = METRICS.map((m) => `${m} ${(median(f.rates[m]) / median(d.rates[m])).toFixed(2)}`)
  console.log(`ratio ferry/distribution: ${ratios.join('   ')}`)
} finally {
  await ferry.stop()
  await distribution.stop()
  await rm(dir, { recursive: true, force: true })
}
