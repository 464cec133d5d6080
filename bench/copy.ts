// ferry copy / ferry sync against skopeo, same machine, same run, alternating, medians of ROUNDS.
//   npx tsx bench/copy.ts            (after `npm run build`)
//   ROUNDS=5 BIG_MIB=1024 npx tsx bench/copy.ts
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { type Distribution, startDistribution } from '../test/helpers/distribution.js'
import { ferry, fmt, median, run, skopeo, type Timed } from './lib.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const BIG_MIB = Number(process.env.BIG_MIB ?? 1024)
const LAYERS = 8
const TLS = ['--src-tls-verify=false', '--dest-tls-verify=false']

async function withFreshRegistry<T>(fn: (host: string) => Promise<T>): Promise<T> {
  const reg = await startDistribution()
  try {
    return await fn(reg.host)
  } finally {
    await reg.stop()
  }
}

/** Alternates which tool goes first each round, so neither always gets the warmer cache. */
async function rounds(a: () => Promise<Timed>, b: () => Promise<Timed>) {
  const ferryRuns: Timed[] = []
  const skopeoRuns: Timed[] = []
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      ferryRuns.push(await a())
      skopeoRuns.push(await b())
    } else {
      skopeoRuns.push(await b())
      ferryRuns.push(await a())
    }
  }
  return {
    ferry: median(ferryRuns.map((r) => r.seconds)),
    skopeo: median(skopeoRuns.map((r) => r.seconds)),
    rss: Math.max(...ferryRuns.map((r) => r.rssMiB ?? 0)),
  }
}

function report(name: string, r: { ferry: number; skopeo: number; rss: number }, goal: string) {
  console.log(
    `${name.padEnd(34)} ferry ${fmt(r.ferry)} s  skopeo ${fmt(r.skopeo)} s  ratio ${fmt(r.ferry / r.skopeo)}  ` +
      `ferry peak RSS ${fmt(r.rss, 0)} MiB  (goal ${goal})`,
  )
}

async function big(source: Distribution) {
  const client = new RegistryClient()
  await pushSyntheticImage(
    client.repository({ registry: source.host, repository: 'big/app' }),
    { seed: 'bench-big', layers: LAYERS, layerSize: (BIG_MIB * 1024 * 1024) / LAYERS },
    '1.0',
  )
  await client.close()
  const src = `${source.host}/big/app:1.0`
  const r = await rounds(
    () => withFreshRegistry((dst) => ferry(['copy', src, `${dst}/big/app:1.0`, '--json'])),
    () =>
      withFreshRegistry((dst) =>
        skopeo(['copy', '--all', ...TLS, `docker://${src}`, `docker://${dst}/big/app:1.0`]),
      ),
  )
  report(`big: 1 image, ${LAYERS} layers, ${BIG_MIB} MiB`, r, '≤ 0.8×, RSS ≤ 150 MiB')
  await layouts(src)
}

async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-layout-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** The big image into a fresh OCI layout directory, and from a filled one into a fresh registry. */
async function layouts(src: string) {
  const into = await rounds(
    () => inTempDir((dir) => ferry(['copy', src, `oci:${dir}/layout:app`, '--json'])),
    () =>
      inTempDir((dir) =>
        skopeo(['copy', '--all', '--src-tls-verify=false', `docker://${src}`, `oci:${dir}/layout:app`]),
      ),
  )
  report('big into an OCI layout', into, 'none set')
  await inTempDir(async (dir) => {
    const layout = `oci:${dir}/layout:app`
    await ferry(['copy', src, layout, '--json'])
    const from = await rounds(
      () => withFreshRegistry((dst) => ferry(['copy', layout, `${dst}/big/app:1.0`, '--json'])),
      () =>
        withFreshRegistry((dst) =>
          skopeo(['copy', '--all', '--dest-tls-verify=false', layout, `docker://${dst}/big/app:1.0`]),
        ),
    )
    report('big from an OCI layout', from, 'none set')
  })
}

async function many(source: Distribution, dir: string) {
  const client = new RegistryClient()
  const refs: string[] = []
  for (let r = 0; r < 5; r++) {
    for (let t = 0; t < 10; t++) {
      const repo = `many/svc${r}`
      await pushSyntheticImage(
        client.repository({ registry: source.host, repository: repo }),
        { seed: `bench-many-${r}-${t}`, layers: 3, layerSize: 64 * 1024 },
        `1.${t}.0`,
      )
      refs.push(`${repo}:1.${t}.0`)
    }
  }
  await client.close()
  const spec = (dst: string) =>
    [
      'version: 1',
      `target: ${dst}/mirror`,
      'defaults: { referrers: false }',
      'images:',
      ...[0, 1, 2, 3, 4].flatMap((r) => [
        `  - source: ${source.host}/many/svc${r}`,
        '    tags: { match: "*" }',
      ]),
      '',
    ].join('\n')
  const specFile = join(dir, 'many.yaml')
  let resync = 0
  const r = await rounds(
    () =>
      withFreshRegistry(async (dst) => {
        await writeFile(specFile, spec(dst))
        const first = await ferry(['sync', specFile, '--json'])
        const again = await ferry(['sync', specFile, '--json'])
        resync = Math.max(resync, again.seconds)
        return first
      }),
    () =>
      withFreshRegistry(async (dst) => {
        const start = performance.now()
        for (const ref of refs) {
          await skopeo([
            'copy',
            '--all',
            ...TLS,
            `docker://${source.host}/${ref}`,
            `docker://${dst}/mirror/${ref}`,
          ])
        }
        return { seconds: (performance.now() - start) / 1000 }
      }),
  )
  report('many: 50 images in 5 repos (sync)', r, '≤ 0.3×')
  console.log(
    `${'re-sync of the same 50, in sync'.padEnd(34)} ferry ${fmt(resync)} s (slowest of ${ROUNDS}; goal < 2 s)`,
  )
}

const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-copy-'))
process.env.XDG_STATE_HOME = join(dir, 'state')
const source = await startDistribution()
try {
  console.log(`ferry vs ${(await run('skopeo', ['--version'])).trim()}, ${ROUNDS} rounds, medians`)
  await big(source)
  await many(source, dir)
} finally {
  await source.stop()
  await rm(dir, { recursive: true, force: true })
}
