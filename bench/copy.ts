// ferry copy / ferry sync against skopeo, same machine, same run, alternating, medians of ROUNDS.
//   npx tsx bench/copy.ts            (after `npm run build`)
//   ROUNDS=5 BIG_MIB=1024 npx tsx bench/copy.ts
// Same work on both sides: gzip layers (as registries hold), skopeo with --preserve-digests, and each
// case stops before printing a ratio unless both tools left the same destination digests.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { type Distribution, startDistribution } from '../test/helpers/distribution.js'
import {
  assertSameDigests,
  ferry,
  fmt,
  layoutDigest,
  loadNote,
  median,
  registryDigests,
  run,
  SKOPEO_SAME_WORK,
  skopeo,
  type Timed,
} from './lib.js'

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

/** Each tool's destination digests, recorded by the runs of one case and compared before its ratio. */
class Digests {
  ferry: Record<string, string>[] = []
  skopeo: Record<string, string>[] = []
  check(what: string): number {
    let n = 0
    for (const f of this.ferry) for (const s of this.skopeo) n = assertSameDigests(what, f, s)
    return n
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
    ferryCpu: median(ferryRuns.map((r) => r.cpu)),
    skopeoCpu: median(skopeoRuns.map((r) => r.cpu)),
    rss: Math.max(...ferryRuns.map((r) => r.rssMiB ?? 0)),
  }
}

type Result = Awaited<ReturnType<typeof rounds>>

function report(name: string, r: Result, goal: string, digests: Digests) {
  const same = digests.check(name)
  console.log(`${name}: ${same} destination digest(s) identical for both tools; ${loadNote()}`)
  console.log(
    `${name.padEnd(34)} ferry ${fmt(r.ferry)} s  skopeo ${fmt(r.skopeo)} s  ratio ${fmt(r.ferry / r.skopeo)}  ` +
      `ferry peak RSS ${fmt(r.rss, 0)} MiB  (goal ${goal})`,
  )
  console.log(
    `${''.padEnd(34)} client CPU: ferry ${fmt(r.ferryCpu)} s  skopeo ${fmt(r.skopeoCpu)} s  ratio ${fmt(r.ferryCpu / r.skopeoCpu)}`,
  )
}

async function big(source: Distribution) {
  const client = new RegistryClient()
  await pushSyntheticImage(
    client.repository({ registry: source.host, repository: 'big/app' }),
    { seed: 'bench-big', layers: LAYERS, layerSize: (BIG_MIB * 1024 * 1024) / LAYERS, gzip: true },
    '1.0',
  )
  await client.close()
  const src = `${source.host}/big/app:1.0`
  const digests = new Digests()
  const r = await rounds(
    () =>
      withFreshRegistry(async (dst) => {
        const t = await ferry(['copy', src, `${dst}/big/app:1.0`, '--json'])
        digests.ferry.push(await registryDigests(dst, ['big/app:1.0']))
        return t
      }),
    () =>
      withFreshRegistry(async (dst) => {
        const t = await skopeo([
          'copy',
          '--all',
          ...SKOPEO_SAME_WORK,
          ...TLS,
          `docker://${src}`,
          `docker://${dst}/big/app:1.0`,
        ])
        digests.skopeo.push(await registryDigests(dst, ['big/app:1.0']))
        return t
      }),
  )
  report(`big: 1 image, ${LAYERS} gzip layers, ${BIG_MIB} MiB`, r, '≤ 0.8×, RSS ≤ 100 MiB', digests)
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
  const intoDigests = new Digests()
  const into = await rounds(
    () =>
      inTempDir(async (dir) => {
        const t = await ferry(['copy', src, `oci:${dir}/layout:app`, '--json'])
        intoDigests.ferry.push(await layoutDigest(`${dir}/layout`, 'app'))
        return t
      }),
    () =>
      inTempDir(async (dir) => {
        const t = await skopeo([
          'copy',
          '--all',
          ...SKOPEO_SAME_WORK,
          '--src-tls-verify=false',
          `docker://${src}`,
          `oci:${dir}/layout:app`,
        ])
        intoDigests.skopeo.push(await layoutDigest(`${dir}/layout`, 'app'))
        return t
      }),
  )
  report('big into an OCI layout', into, '≤ 0.8×', intoDigests)
  await inTempDir(async (dir) => {
    const layout = `oci:${dir}/layout:app`
    await ferry(['copy', src, layout, '--json'])
    const fromDigests = new Digests()
    const from = await rounds(
      () =>
        withFreshRegistry(async (dst) => {
          const t = await ferry(['copy', layout, `${dst}/big/app:1.0`, '--json'])
          fromDigests.ferry.push(await registryDigests(dst, ['big/app:1.0']))
          return t
        }),
      () =>
        withFreshRegistry(async (dst) => {
          const t = await skopeo([
            'copy',
            '--all',
            ...SKOPEO_SAME_WORK,
            '--dest-tls-verify=false',
            layout,
            `docker://${dst}/big/app:1.0`,
          ])
          fromDigests.skopeo.push(await registryDigests(dst, ['big/app:1.0']))
          return t
        }),
    )
    report('big from an OCI layout', from, '≤ 0.8×', fromDigests)
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
        { seed: `bench-many-${r}-${t}`, layers: 3, layerSize: 64 * 1024, gzip: true },
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
  const mirrored = refs.map((ref) => `mirror/${ref}`)
  const digests = new Digests()
  let resync = 0
  const r = await rounds(
    () =>
      withFreshRegistry(async (dst) => {
        await writeFile(specFile, spec(dst))
        const first = await ferry(['sync', specFile, '--json'])
        digests.ferry.push(await registryDigests(dst, mirrored))
        const again = await ferry(['sync', specFile, '--json'])
        resync = Math.max(resync, again.seconds)
        return first
      }),
    () =>
      withFreshRegistry(async (dst) => {
        const start = performance.now()
        let cpu = 0
        for (const ref of refs) {
          const t = await skopeo([
            'copy',
            '--all',
            ...SKOPEO_SAME_WORK,
            ...TLS,
            `docker://${source.host}/${ref}`,
            `docker://${dst}/mirror/${ref}`,
          ])
          cpu += t.cpu
        }
        const seconds = (performance.now() - start) / 1000
        digests.skopeo.push(await registryDigests(dst, mirrored))
        return { seconds, cpu }
      }),
  )
  report('many: 50 images in 5 repos (sync)', r, 'bench/many.ts compares with skopeo sync', digests)
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
