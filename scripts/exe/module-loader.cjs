// Stands in for @oclif/core/lib/module-loader.js inside the single executable (scripts/build-exe.js puts it
// there): the modules oclif loads by path (commands, hooks, the help class) come from the bundle's table,
// which scripts/exe/runtime.js publishes. Same exports as oclif's loader.
'use strict'
const { isAbsolute, normalize, relative } = require('node:path')

const EMBEDDED = Symbol.for('ferry.embedded')

function notFound(path) {
  const err = new Error(`${path} is not in this executable`)
  err.code = 'MODULE_NOT_FOUND'
  return err
}

async function loadWithData(_config, modulePath) {
  const { root, modules } = globalThis[EMBEDDED]
  const rel = normalize(isAbsolute(modulePath) ? relative(root, modulePath) : modulePath).replace(/\/$/, '')
  for (const key of [rel, `${rel}.js`, `${rel}/index.js`]) {
    if (modules[key]) return { filePath: `${root}/${key}`, isESM: true, module: await modules[key]() }
  }
  throw notFound(modulePath)
}

async function load(config, modulePath) {
  return (await loadWithData(config, modulePath)).module
}

async function loadWithDataFromManifest(cached, root) {
  return loadWithData(undefined, `${root}/${cached.relativePath.join('/')}`)
}

module.exports = { load, loadWithData, loadWithDataFromManifest, isPathModule: () => true }
