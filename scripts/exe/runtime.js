// The start of ferry's single executable (bundled into it by scripts/build-exe.js; never run from a checkout).
// oclif finds commands, hooks and its help class as files on disk; in the executable there are none, so the
// plugins are handed to oclif already made (Config's documented `plugins` option), their manifests and
// package.json from the bundle, and every module oclif would load from a file comes from the bundle's table
// (module-loader.cjs stands in for oclif's loader). Modules are imported when oclif asks for them, as from
// disk: `ferry --help` still evaluates no command.
import { dirname, join } from 'node:path'
import { execute, settings } from '@oclif/core'

const EMBEDDED = Symbol.for('ferry.embedded')

/** Where the executable is: the root oclif reports (`ferry version --verbose`), and where pkcs11js.node is found. */
const ROOT = dirname(process.execPath)

const commandClass = (module) =>
  typeof module.default?.run === 'function'
    ? module.default
    : Object.values(module).find((v) => typeof v?.run === 'function')

/** oclif's Plugin contract, answered from what the bundle holds. */
class EmbeddedPlugin {
  constructor({ path, pjson, manifest }, modules, isRoot) {
    this.root = path ? join(ROOT, path) : ROOT
    this.path = path
    this.modules = modules
    this.pjson = pjson
    this.manifest = manifest
    this.name = pjson.name
    this.alias = pjson.name
    this.version = pjson.version
    this.isRoot = isRoot
    this.type = 'core'
    this.valid = true
    this.moduleType = 'module'
    this.hasManifest = true
    this.commandsDir = undefined
    this._base = `ferry-exe@${pjson.version}`
    this.options = { root: this.root, isRoot, name: this.name, type: 'core' }
    this.hooks = Object.fromEntries(
      Object.entries(pjson.oclif.hooks ?? {}).map(([event, targets]) => [
        event,
        [targets]
          .flat()
          .map((target) => (typeof target === 'string' ? { target, identifier: 'default' } : target)),
      ]),
    )
    this.commandIDs = Object.keys(manifest.commands)
    this.commands = Object.entries(manifest.commands)
      .map(([id, cached]) => ({
        ...cached,
        load: () => this.findCommand(id, { must: true }),
        pluginAlias: this.alias,
        pluginType: 'core',
      }))
      .sort((a, b) => a.id.localeCompare(b.id))
  }

  get topics() {
    return Object.entries(this.pjson.oclif.topics ?? {}).map(([name, topic]) => ({ ...topic, name }))
  }

  async load() {}

  async findCommand(id, opts = {}) {
    const cached = this.manifest.commands[id]
    const key = cached && [this.path, ...cached.relativePath].filter(Boolean).join('/')
    const load = key && this.modules[key]
    if (!load) {
      if (opts.must) throw new Error(`command ${id} is not in this executable`)
      return undefined
    }
    const cmd = commandClass(await load())
    cmd.id = id
    cmd.plugin = this
    return cmd
  }
}

/**
 * Runs the CLI. `plugins`: ferry's own (path '') first, then oclif's, each with its package.json and
 * manifest; `modules`: every loadable module by its path from the package root, as a lazy import.
 */
export function runEmbedded(plugins, modules) {
  // The paths oclif builds are the compiled JavaScript's: no TypeScript lookup (which would read tsconfig).
  settings.enableAutoTranspile = false
  globalThis[EMBEDDED] = { root: ROOT, modules }
  const made = plugins.map((p, i) => new EmbeddedPlugin(p, modules, i === 0))
  return execute({
    loadOptions: { root: ROOT, plugins: new Map(made.map((p) => [p.name, p])), userPlugins: false },
  })
}
