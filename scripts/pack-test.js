#!/usr/bin/env node
// `npm run test:pack`: what a user gets from the published package. Packs the tarball (its `prepack` builds),
// installs it into an empty prefix without dev dependencies, and runs the installed `ferry` there: help,
// version, and a copy between two OCI layouts. Nothing from this checkout's node_modules is reachable from
// the prefix, so a runtime dependency missing from `dependencies` fails here.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const work = mkdtempSync(join(tmpdir(), 'ferry-pack-'))
// The prefix must not see this checkout's modules through NODE_PATH, nor npm's own run-script settings.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_PATH' && !k.startsWith('npm_')),
)

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 600_000, ...opts })
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stdout ?? ''}${r.stderr ?? ''}`)
  }
  return r.stdout
}

function check(ok, what) {
  if (!ok) throw new Error(`pack test: ${what}`)
  process.stdout.write(`ok  ${what}\n`)
}

try {
  const [pack] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], { cwd: root }))
  const files = pack.files.map((f) => f.path)
  check(files.includes('LICENSE'), 'the tarball holds LICENSE')
  check(files.includes('oclif.manifest.json'), 'the tarball holds the command manifest')
  check(!files.some((f) => f.endsWith('.map')), 'the tarball holds no source maps')
  check(
    !files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
    'the tarball holds no TypeScript sources',
  )

  const prefix = join(work, 'prefix')
  run(
    'npm',
    [
      'install',
      '--prefix',
      prefix,
      '--omit=dev',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(work, pack.filename),
    ],
    { cwd: work },
  )
  const installed = join(prefix, 'node_modules', 'ferry')
  const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
  check(!pkg.scripts?.prepare && !pkg.scripts?.postinstall, 'installing runs no build script')
  check(!existsSync(join(prefix, 'node_modules', 'typescript')), 'no dev dependency was installed')

  const bin = join(prefix, 'node_modules', '.bin', 'ferry')
  const ferry = (...args) => run(bin, args, { cwd: work }).trim()
  check(/\n\s+copy\s/.test(ferry('--help')), '`ferry --help` lists copy')
  check(ferry('help', 'copy').includes('USAGE'), '`ferry help copy` shows the usage')
  check(ferry('version').startsWith(`ferry/${pkg.version} `), '`ferry version` names the version')

  // The layout is made with the installed package's own library, which also proves its entry point loads.
  const lib = await import(pathToFileURL(join(installed, 'dist', 'src', 'index.js')).href)
  const source = await lib.openLayoutTarget(join(work, 'source'), { create: true })
  const index = await lib.pushSyntheticIndex(
    source,
    { seed: 'pack-test', layers: 1, layerSize: 4096 },
    [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ],
    '1.0',
  )
  await source.close()
  const copied = ferry('copy', 'oci:source:1.0', 'oci:copy:1.0')
  check(copied.endsWith(`@${index.digest}`), '`ferry copy` of a layout prints the source digest')
  check(ferry('digest', 'oci:copy:1.0') === index.digest, 'the copied layout serves the same digest')
  process.stdout.write(`pack test: ${pack.filename} (${files.length} files, ${pack.size} bytes) works\n`)
} catch (err) {
  process.stderr.write(`${err.message}\n`)
  process.exitCode = 1
} finally {
  rmSync(work, { recursive: true, force: true })
}
