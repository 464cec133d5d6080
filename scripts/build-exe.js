#!/usr/bin/env node
// `npm run build:exe [-- --key KEY]`: ferry as one file, a Node single executable application
// (https://nodejs.org/docs/latest-v20.x/api/single-executable-applications.html). After `npm run build`:
//   1. one CommonJS script: every command, oclif and its plugins, bundled by esbuild from dist/ and node_modules;
//   2. Node's SEA blob of it (`node --experimental-sea-config`), injected into a copy of this node binary
//      by postject, which also flips the binary's SEA fuse;
//   3. pkcs11js.node, the PKCS#11 binding's native addon (only `pkcs11:` keys load it), beside it;
//   4. SHA256SUMS over both; with --key, detached signatures (ferry sign-blob, by the new executable itself)
//      of the executable and of SHA256SUMS.
// Writes dist/exe/ferry-linux-<arch>; the intermediate files stay in dist/exe-build/.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const work = join(root, 'dist', 'exe-build')
const out = join(root, 'dist', 'exe')
const require = createRequire(join(root, 'package.json'))
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))

/** What oclif loads by path in each plugin: its commands (from the manifest), hooks and help class. */
function pluginModules(path, pjson, manifest) {
  const files = Object.values(manifest.commands).map((c) => c.relativePath.join('/'))
  for (const target of Object.values(pjson.oclif.hooks ?? {}).flat()) {
    files.push(typeof target === 'string' ? target : target.target)
  }
  if (pjson.oclif.helpClass) files.push(pjson.oclif.helpClass)
  return files.map((file) => {
    // Not require.resolve, which follows symlinks: a symlinked node_modules would bring a second @oclif/core.
    const base = join(root, path, file)
    const abs = [base, `${base}.js`, join(base, 'index.js')].find(
      (f) => existsSync(f) && statSync(f).isFile(),
    )
    if (!abs) throw new Error(`${base}: no such module`)
    return { key: relative(root, base), abs }
  })
}

/** The generated entry: the plugins' package.json and manifests, and a lazy import per loadable module. */
function writeEntry() {
  const pkg = readJson(join(root, 'package.json'))
  const plugins = [{ path: '', pjson: pkg, manifest: readJson(join(root, 'oclif.manifest.json')) }]
  for (const name of pkg.oclif.plugins) {
    const path = join('node_modules', name)
    plugins.push({
      path,
      pjson: readJson(join(root, path, 'package.json')),
      manifest: readJson(join(root, path, 'oclif.manifest.json')),
    })
  }
  const modules = [
    ...new Map(
      plugins.flatMap((p) => pluginModules(p.path, p.pjson, p.manifest)).map((m) => [m.key, m]),
    ).values(),
  ]
  const lines = [
    `import { runEmbedded } from ${JSON.stringify(join(root, 'scripts', 'exe', 'runtime.js'))}`,
    'const modules = {',
    ...modules.map(({ key, abs }) => `  ${JSON.stringify(key)}: () => import(${JSON.stringify(abs)}),`),
    '}',
    `runEmbedded(${JSON.stringify(plugins)}, modules)`,
  ]
  const entry = join(work, 'entry.mjs')
  writeFileSync(entry, `${lines.join('\n')}\n`)
  return entry
}

/**
 * esbuild plugin for what a bundle cannot do as on disk:
 * - oclif's module loader imports files by path: replaced by the table in scripts/exe/module-loader.cjs;
 * - `createRequire(import.meta.url)` (undici's parts, pkcs11js) hides what is required from the bundler:
 *   a plain `require` is the same thing once everything is in one script;
 * - the pkcs11js addon cannot be inside the executable (a shared object is loaded from a file): it is
 *   loaded from beside the executable, on first use only.
 */
const fitForOneFile = {
  name: 'ferry-exe',
  setup(build) {
    build.onLoad({ filter: /@oclif[\\/]core[\\/]lib[\\/]module-loader\.js$/ }, () => ({
      contents: readFileSync(join(root, 'scripts', 'exe', 'module-loader.cjs'), 'utf8'),
      loader: 'js',
      resolveDir: join(root, 'scripts', 'exe'),
    }))
    build.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes('createRequire(import.meta.url)')) return undefined
      const contents = source
        .replace(/const require = createRequire\(import\.meta\.url\);?/g, '')
        .replaceAll('createRequire(import.meta.url)(', 'require(')
      if (contents.includes('import.meta.url'))
        throw new Error(`${args.path}: import.meta.url left after rewriting`)
      return { contents, loader: 'js' }
    })
    // oclif reads tsconfig.json with TypeScript only when it transpiles (never here): 17 MB not carried.
    build.onResolve({ filter: /^typescript$/ }, (args) => ({ path: args.path, namespace: 'left-out' }))
    build.onLoad({ filter: /.*/, namespace: 'left-out' }, (args) => ({
      contents: `throw Object.assign(new Error('${args.path} is not in the ferry executable'), { code: 'MODULE_NOT_FOUND' })`,
      loader: 'js',
    }))
    build.onResolve({ filter: /\.node$/ }, (args) => ({ path: args.path, namespace: 'native-addon' }))
    build.onLoad({ filter: /pkcs11\.node$/, namespace: 'native-addon' }, () => ({
      contents: `
        const { createRequire } = require('node:module')
        const { dirname, join } = require('node:path')
        const addon = join(dirname(process.execPath), 'pkcs11js.node')
        try {
          module.exports = createRequire(process.execPath)(addon)
        } catch (err) {
          throw new Error('pkcs11js.node must be beside the ferry executable (' + addon + '): ' + err.message.split('\\n')[0])
        }`,
      loader: 'js',
    }))
  },
}

async function bundle(entry) {
  const file = join(work, 'ferry.cjs')
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    minify: true,
    // Names stay: oclif and ferry's errors print class names, and pkcs11js names its error class.
    keepNames: true,
    legalComments: 'none',
    // node_modules may be a symlink (a git worktree's): paths in the bundle stay the checkout's own.
    preserveSymlinks: true,
    absWorkingDir: root,
    logLevel: 'warning',
    // oclif checks Node's version against its own package.json, read by path at start-up: the executable
    // carries its Node, and a require of a file in a SEA prints a warning.
    define: { 'process.env.OCLIF_DISABLE_ENGINE_WARNING': '"1"' },
    plugins: [fitForOneFile],
  })
  if (result.warnings.length) throw new Error('esbuild warned: a module may not work from the bundle')
  return file
}

function seaBlob(script) {
  const config = join(work, 'sea-config.json')
  const blob = join(work, 'sea-prep.blob')
  writeFileSync(
    config,
    JSON.stringify({
      main: script,
      output: blob,
      disableExperimentalSEAWarning: true,
      // No V8 code cache: it would save ~80 ms of CPU per start (125 against 205 ms for --version), but
      // its bytes differ from build to build, and the executable (and so the image) must not.
      useCodeCache: false,
    }),
  )
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' })
  return blob
}

function inject(blob, exe) {
  copyFileSync(process.execPath, exe)
  chmodSync(exe, 0o755)
  const postject = join(dirname(require.resolve('postject')), 'cli.js')
  // stderr is kept for a failure's message: on success it is only LIEF's "Can't find string offset for
  // section name '.note…'" lines, which Node's SEA documentation says to ignore.
  execFileSync(
    process.execPath,
    [
      postject,
      exe,
      'NODE_SEA_BLOB',
      blob,
      '--sentinel-fuse',
      'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' },
  )
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex')

const { values } = parseArgs({ options: { key: { type: 'string' } } })
if (process.platform !== 'linux') throw new Error('build:exe makes Linux executables only')
readJson(join(root, 'oclif.manifest.json')) // fails with a clear ENOENT before `npm run build`
rmSync(work, { recursive: true, force: true })
rmSync(out, { recursive: true, force: true })
mkdirSync(work, { recursive: true })
mkdirSync(out, { recursive: true })

const name = `ferry-linux-${process.arch}`
const exe = join(out, name)
inject(seaBlob(await bundle(writeEntry())), exe)
copyFileSync(
  join(dirname(require.resolve('pkcs11js')), 'build', 'Release', 'pkcs11.node'),
  join(out, 'pkcs11js.node'),
)
const files = [name, 'pkcs11js.node'].sort()
writeFileSync(join(out, 'SHA256SUMS'), files.map((f) => `${sha256(join(out, f))}  ${f}\n`).join(''))
if (values.key) {
  for (const f of [name, 'SHA256SUMS']) {
    const r = spawnSync(exe, ['sign-blob', f, '--key', values.key, '--output-signature', `${f}.sig`], {
      cwd: out,
      stdio: 'inherit',
    })
    if (r.status !== 0) throw new Error(`signing ${f} failed`)
  }
}
process.stdout.write(`${relative(root, exe)}: ${readFileSync(exe).length} bytes, sha256 ${sha256(exe)}\n`)
