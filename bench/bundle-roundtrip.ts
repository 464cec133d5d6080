/**
 * Air-gap round trip: `ferry bundle create` then `ferry bundle import` of one large image, against
 * `skopeo copy --all docker://… oci-archive:FILE` then `skopeo copy --all oci-archive:FILE docker://…`.
 *
 *   npm run build && npx tsx bench/bundle-roundtrip.ts [--layers 8] [--mib 128] [--rounds 3]
 *
 * A CNCF distribution registry on loopback holds a synthetic image of LAYERS incompressible layers of
 * MIB MiB (default 1 GiB). Each round runs both tools, in alternating order, as separate processes under
 * `/usr/bin/time -v`: create from that registry into a file, then import the file into a fresh registry.
 * Prints wall time per leg and round, the medians, ferry/skopeo ratios (below 1: ferry is faster) and
 * the peak RSS of every run. ferry's import includes its verifying pass over the whole bundle.
 */
import { type SpawnOptions, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { RegistryClient } from '../src/registry/index.js'
import { pushSyntheticImage } from '../src/synthetic.js'
import { startDistribution } from '../test/helpers/distribution.js'

const { values } = parseArgs({
  options: {
    layers: { type: 'string', default: '8' },
    mib: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '3' },
  },
})
const LAYERS = Number(values.layers)
const MIB = Number(values.mib)
const ROUNDS = Number(values.rounds)
const root = resolve(import.meta.dirname, '..')
const bin = join(root, 'bin', 'run.js')

type Tool = 'ferry' | 'skopeo'
type Leg = 'create' | 'import'
interface Sample {
  tool: Tool
  leg: Leg
  round: number
  seconds: number
  maxRssMiB: number
}

/** Runs a command under /usr/bin/time -v; returns wall seconds and the peak RSS it reports. */
function timed(
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): Promise<{ seconds: number; maxRssMiB: number }> {
  return new Promise((ok, fail) => {
    const started = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-v', cmd, ...args], {
      ...opts,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr!.on('data', (d) => {
      stderr += d
    })
    child.once('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)
      if (code !== 0 || !rss) return fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr}`))
      ok({ seconds, maxRssMiB: Number(rss[1]) / 1024 })
    })
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

async function main() {
  if (!existsSync(join(root, 'dist', 'commands', 'bundle', 'create.js'))) {
    throw new Error('build ferry first: npm run build')
  }
  const work = await mkdtemp(join(tmpdir(), 'ferry-bench-bundle-'))
  const source = await startDistribution()
  const client = new RegistryClient()
  const samples: Sample[] = []
  try {
    process.stderr.write(`pushing a ${LAYERS} x ${MIB} MiB image to ${source.host}/bench/big:1 …\n`)
    const image = await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'bench/big' }),
      { seed: 'bench/bundle', layers: LAYERS, layerSize: MIB * 1024 * 1024 },
      '1',
    )
    const src = `${source.host}/bench/big:1`
    const legs: Record<
      Tool,
      {
        create: (file: string) => [string, string[]]
        import: (file: string, host: string) => [string, string[]]
      }
    > = {
      ferry: {
        create: (file) => [process.execPath, [bin, 'bundle', 'create', '--image', src, '--output', file]],
        import: (file, host) => [process.execPath, [bin, 'bundle', 'import', file, '--to', `${host}/bench`]],
      },
      skopeo: {
        create: (file) => [
          'skopeo',
          [
            'copy',
            '--all',
            '--quiet',
            '--preserve-digests',
            '--src-tls-verify=false',
            `docker://${src}`,
            `oci-archive:${file}`,
          ],
        ],
        import: (file, host) => [
          'skopeo',
          [
            'copy',
            '--all',
            '--quiet',
            '--preserve-digests',
            '--dest-tls-verify=false',
            `oci-archive:${file}`,
            `docker://${host}/bench/bench/big:1`,
          ],
        ],
      },
    }
    for (let round = 1; round <= ROUNDS; round++) {
      const order: Tool[] = round % 2 ? ['ferry', 'skopeo'] : ['skopeo', 'ferry']
      for (const tool of order) {
        const file = join(work, `${tool}-${round}.tar`)
        const [c, ca] = legs[tool].create(file)
        const created = await timed(c, ca, { cwd: work, env: { ...process.env, TMPDIR: work } })
        samples.push({ tool, leg: 'create', round, ...created })
        const dest = await startDistribution()
        try {
          const [i, ia] = legs[tool].import(file, dest.host)
          const imported = await timed(i, ia, { cwd: work, env: { ...process.env, TMPDIR: work } })
          samples.push({ tool, leg: 'import', round, ...imported })
          // Both land where ferry's default mapping puts it: --to HOST/bench + the source path bench/big.
          const got = (
            await client.repository({ registry: dest.host, repository: 'bench/bench/big' }).resolve('1')
          ).digest
          if (got !== image.digest) throw new Error(`${tool}: imported ${got}, expected ${image.digest}`)
        } finally {
          await dest.stop()
          await rm(file, { force: true })
        }
        const last = samples.slice(-2)
        process.stderr.write(
          `round ${round} ${tool.padEnd(6)} create ${last[0]!.seconds.toFixed(2)}s (${last[0]!.maxRssMiB.toFixed(0)} MiB)  ` +
            `import ${last[1]!.seconds.toFixed(2)}s (${last[1]!.maxRssMiB.toFixed(0)} MiB)\n`,
        )
      }
    }
  } finally {
    await client.close()
    await source.stop()
    await rm(work, { recursive: true, force: true })
  }

  const pick = (tool: Tool, leg: Leg) => samples.filter((s) => s.tool === tool && s.leg === leg)
  const rows: string[] = []
  rows.push(
    `image: ${LAYERS} x ${MIB} MiB = ${((LAYERS * MIB) / 1024).toFixed(2)} GiB, ${ROUNDS} rounds, medians`,
  )
  rows.push('leg      ferry     skopeo    ratio   ferry peak RSS   skopeo peak RSS')
  for (const leg of ['create', 'import'] as const) {
    const f = pick('ferry', leg)
    const s = pick('skopeo', leg)
    const fm = median(f.map((x) => x.seconds))
    const sm = median(s.map((x) => x.seconds))
    const frss = Math.max(...f.map((x) => x.maxRssMiB))
    const srss = Math.max(...s.map((x) => x.maxRssMiB))
    rows.push(
      `${leg.padEnd(8)} ${`${fm.toFixed(2)}s`.padEnd(9)} ${`${sm.toFixed(2)}s`.padEnd(9)} ${(fm / sm).toFixed(2).padEnd(7)} ` +
        `${`${frss.toFixed(0)} MiB`.padEnd(16)} ${srss.toFixed(0)} MiB`,
    )
  }
  process.stdout.write(`${rows.join('\n')}\n`)
}

await main()
