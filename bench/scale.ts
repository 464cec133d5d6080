// Scale: the curve, not the point. For each N, N small images (gzip layers) in N/100 repositories of up
// to 100 tags: `ferry sync` against `skopeo sync --all --preserve-digests` into fresh registries (client
// CPU from /proc, ferry's peak RSS), the destination digests checked identical before any ratio, then
// ferry's no-op re-sync with referrers on (the default) and the requests it made. Then `retention plan`
// over one repository of T tags, and `bundle create` of B images, with their requests per tag / blob.
//   npm run build && npx tsx bench/scale.ts
//   SCALE=10,100,1000,10000 RETENTION=10000 BUNDLE=200 npx tsx bench/scale.ts
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { type Distribution, startDistribution } from '../test/helpers/distribution.js'
import {
  assertSameDigests,
  childrenCpu,
  fmt,
  loadNote,
  ROOT,
  registryDigests,
  requestKinds,
  run,
  SKOPEO_SAME_WORK,
} from './lib.js'

const list = (v: string | undefined, d: string) => (v ?? d).split(',').filter(Boolean).map(Number)
const SCALE = list(process.env.SCALE, '10,100,1000')
const RETENTION = list(process.env.RETENTION, '1000')
const BUNDLE = list(process.env.BUNDLE, '50')
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false']

interface Run {
  wall: number
  cpu: number
  rssMiB: number
  stderr: string
}

/** The built CLI, waited for: wall, its CPU (from this process's reaped children), peak RSS, stderr. */
async function ferry(args: string[]): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-scale-rss-'))
  const rssFile = join(dir, 'rss')
  const cpu0 = childrenCpu()
  const start = performance.now()
  const stderr = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench', 'measure-rss.js'), rssFile, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
    })
    // sync exits 1 when an image failed: that is a broken bench, not a figure.
    child.on('close', (code) => (code === 0 ? resolve(err) : reject(new Error(err.slice(-2000)))))
  })
  const wall = (performance.now() - start) / 1000
  const rssMiB = Number(await readFile(rssFile, 'utf8')) / 1024
  await rm(dir, { recursive: true, force: true })
  return { wall, cpu: childrenCpu() - cpu0, rssMiB, stderr }
}

async function skopeo(args: string[]): Promise<{ wall: number; cpu: number }> {
  const cpu0 = childrenCpu()
  const start = performance.now()
  await run('skopeo', ['--insecure-policy', ...args])
  return { wall: (performance.now() - start) / 1000, cpu: childrenCpu() - cpu0 }
}

/** N images, `min(N, 100)` tags per repository; returns `REPO:TAG` references. */
async function fixture(source: Distribution, n: number, prefix: string): Promise<string[]> {
  const client = new RegistryClient()
  const perRepo = Math.min(n, 100)
  const refs: string[] = []
  for (let i = 0; i < n; i++) {
    const repo = `${prefix}/r${Math.floor(i / perRepo)}`
    const tag = `1.${i % perRepo}.0`
    await pushSyntheticImage(
      client.repository({ registry: source.host, repository: repo }),
      { seed: `scale-${prefix}-${i}`, layers: 1, layerSize: 1024, gzip: true },
      tag,
    )
    refs.push(`${repo}:${tag}`)
  }
  await client.close()
  return refs
}

const perImageMs = (cpu: number, n: number) => fmt((cpu * 1000) / n, 1)

async function syncCurve(source: Distribution, dir: string) {
  console.log(`\n## sync (${loadNote()})`)
  console.log(
    '| N | ferry CPU | /image | skopeo CPU | /image | CPU ratio | ferry wall | skopeo wall | ferry RSS | re-sync wall | re-sync CPU | re-sync manifest GETs | re-sync requests |',
  )
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const n of SCALE) {
    const refs = await fixture(source, n, `scale${n}`)
    const repos = [...new Set(refs.map((r) => r.slice(0, r.lastIndexOf(':'))))]
    const [a, b] = await Promise.all([startDistribution(), startDistribution()])
    try {
      const spec = join(dir, `scale-${n}.yaml`)
      const lines = ['version: 1', `target: ${a.host}/mirror`, 'images:']
      for (const r of repos) lines.push(`  - source: ${source.host}/${r}`, '    tags: { match: "*" }')
      await writeFile(spec, `${lines.join('\n')}\n`)
      const first = await ferry(['sync', spec, '--json'])
      const again = await ferry(['sync', spec, '--json', '--debug'])
      const kinds = requestKinds(again.stderr)
      const sk = { wall: 0, cpu: 0 }
      for (const r of repos) {
        const t = await skopeo([
          'sync',
          '--all',
          ...SKOPEO_SAME_WORK,
          '--src',
          'docker',
          '--dest',
          'docker',
          ...TLS,
          `${source.host}/${r}`,
          `${b.host}/mirror/${r.slice(0, r.lastIndexOf('/'))}`,
        ])
        sk.wall += t.wall
        sk.cpu += t.cpu
      }
      const mirrored = refs.map((r) => `mirror/${r}`)
      assertSameDigests(
        `sync of ${n}`,
        await registryDigests(a.host, mirrored),
        await registryDigests(b.host, mirrored),
      )
      const total = [...kinds.values()].reduce((x, y) => x + y, 0)
      console.log(
        `| ${n} | ${fmt(first.cpu)} s | ${perImageMs(first.cpu, n)} ms | ${fmt(sk.cpu)} s | ${perImageMs(sk.cpu, n)} ms | ${fmt(first.cpu / sk.cpu)} | ${fmt(first.wall)} s | ${fmt(sk.wall)} s | ${fmt(first.rssMiB, 0)} MiB | ${fmt(again.wall)} s | ${fmt(again.cpu)} s | ${kinds.get('GET manifest') ?? 0} | ${total} |`,
      )
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  }
  console.log('(digests identical for both tools at every N; re-sync with referrers on, the default)')
}

async function retentionCurve(dir: string) {
  console.log(`\n## retention plan, one repository (${loadNote()})`)
  console.log('| tags | wall | CPU | RSS | requests | per tag |')
  console.log('|---:|---:|---:|---:|---:|---:|')
  const policy = join(dir, 'ferry.policy.yaml')
  await writeFile(
    policy,
    [
      'version: 1',
      'environments:',
      '  - name: rc',
      '    match: { tags: { match: "/-rc\\\\.\\\\d+$/" } }',
      '    retention: { keep: { count: 10, within: 90d } }',
      'retention: { grace: 24h }',
      '',
    ].join('\n'),
  )
  for (const tags of RETENTION) {
    const reg = await startDistribution()
    try {
      // One small image, many tags on their own manifests (each an annotation apart): the registry's
      // cost per tag, not per blob.
      const client = new RegistryClient()
      const repo = client.repository({ registry: reg.host, repository: 'acme/app' })
      for (let i = 0; i < tags; i++)
        await pushSyntheticImage(
          repo,
          {
            seed: 'retention',
            layers: 1,
            layerSize: 1024,
            gzip: true,
            created: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(),
          },
          `1.0.0-rc.${i}`,
        )
      await client.close()
      const r = await ferry([
        'retention',
        'plan',
        `${reg.host}/acme/app`,
        '--policy',
        policy,
        '--json',
        '--debug',
      ])
      const total = [...requestKinds(r.stderr).values()].reduce((x, y) => x + y, 0)
      console.log(
        `| ${tags} | ${fmt(r.wall)} s | ${fmt(r.cpu)} s | ${fmt(r.rssMiB, 0)} MiB | ${total} | ${fmt(total / tags, 2)} |`,
      )
    } finally {
      await reg.stop()
    }
  }
}

async function bundleCurve(source: Distribution, dir: string) {
  console.log(`\n## bundle create (${loadNote()})`)
  console.log('| images | wall | CPU | /image | RSS | blob GETs | blobs | GETs per blob |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const n of BUNDLE) {
    const refs = await fixture(source, n, `bundle${n}`)
    const repos = [...new Set(refs.map((r) => r.slice(0, r.lastIndexOf(':'))))]
    const spec = join(dir, `bundle-${n}.yaml`)
    const lines = ['name: scale', 'version: "1"', 'images:']
    for (const r of repos) lines.push(`  - ref: ${source.host}/${r}`, '    tags: { match: "*" }')
    await writeFile(spec, `${lines.join('\n')}\n`)
    const out = join(dir, `bundle-${n}.tar`)
    const r = await ferry(['bundle', 'create', spec, '-o', out, '--json', '--debug'])
    const gets = requestKinds(r.stderr).get('GET blob') ?? 0
    // Each image: one config and one layer of its own.
    const blobs = 2 * n
    console.log(
      `| ${n} | ${fmt(r.wall)} s | ${fmt(r.cpu)} s | ${perImageMs(r.cpu, n)} ms | ${fmt(r.rssMiB, 0)} MiB | ${gets} | ${blobs} | ${fmt(gets / blobs, 2)} |`,
    )
    await rm(out, { force: true })
  }
}

const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-scale-'))
process.env.XDG_STATE_HOME = join(dir, 'state')
const source = await startDistribution()
try {
  console.log(
    `ferry vs ${(await run('skopeo', ['--version'])).trim()}; ${(await run('nproc', [])).trim()} cores`,
  )
  const version = await ferry(['--version'])
  console.log(`start-up: ferry --version ${fmt(version.cpu)} s CPU, ${fmt(version.rssMiB, 0)} MiB`)
  await syncCurve(source, dir)
  await retentionCurve(dir)
  await bundleCurve(source, dir)
} finally {
  await source.stop()
  await rm(dir, { recursive: true, force: true })
}
