import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const SRC = join(ROOT, 'src')

async function sources(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) out.push(join(entry.parentPath, entry.name))
  }
  return out
}

async function importing(dir: string, pattern: RegExp): Promise<string[]> {
  const hits: string[] = []
  for (const file of await sources(dir)) {
    const text = await readFile(file, 'utf8')
    if (pattern.test(text)) hits.push(file.slice(ROOT.length + 1))
  }
  return hits
}

/**
 * The packages of src/, lowest first: a module may import only from packages of a lower rank, so the
 * import graph is a DAG by construction and a backend can never reach up into what is built on it.
 * A new package must be placed here.
 */
const RANKS: Record<string, number> = {
  errors: 0,
  log: 0,
  util: 1,
  oci: 1,
  content: 2, // the storage contract, its capabilities, the memory store, helpers over any target, the untag placeholder
  reference: 2, // the grammar of names: references, locations, attachment tags
  spec: 3,
  registry: 4, // backends
  layout: 4,
  sign: 4,
  context: 5, // what one command's operations share: the registry client, logger, signal (built once)
  progress: 0, // the one progress event type every operation reports through
  ledger: 5, // the audit ledger: hash chain, signed checkpoints (sign's keys), a lock per append
  graph: 5, // the one traversal, over any ReadOnlyTarget: beside targets/, so it never opens a backend
  inspect: 6,
  synthetic: 6,
  copy: 7,
  gc: 7, // garbage collection of a layout: graph's walk over layout's entries
  supply: 7,
  policy: 8, // governance rules: judge images read through supply, inspect and the content contract
  governance: 9, // policy and ledger over one write: what bundle import, copy, sync, promote and retention are held to
  bundle: 10,
  evidence: 11, // evidence packs: bundle's tar and layout, the ledger's chain, sign's keys, supply's artifacts
  targets: 11, // a location (registry, oci:, bundle:) opened as its backend; the copy between two
  sync: 12,
  serve: 13, // the registry; with --policy it enforces policy's rules on every client
  promote: 13, // governed writes: promote, retag, delete, and the ledger
  audit: 12, // drift: registries against the ledger and the policy
  pin: 13, // deployment files: naming from bundle, verification from supply and policy
  retention: 14, // retention GC: policy's environments, graph closures, promote's ledger as an age source
}

const packageOf = (file: string) => {
  const rel = relative(SRC, file)
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.[jt]s$/, '')
}

/** Every import between two packages of src/ (the public barrel, src/index.ts, aside). */
async function packageImports(): Promise<{ from: string; to: string; file: string }[]> {
  const edges: { from: string; to: string; file: string }[] = []
  for (const file of await sources('src')) {
    if (relative(SRC, file) === 'index.ts') continue
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), m[1]!)
      const from = packageOf(file)
      const to = packageOf(target)
      if (from !== to) edges.push({ from, to, file: relative(ROOT, file) })
    }
  }
  return edges
}

/**
 * Follows the imports `pattern` finds (group 1: the specifier) from `roots`, transitively through relative
 * ones; an import `forbidden` names is reported as its chain and not followed.
 */
async function walkImports(
  roots: string[],
  pattern: RegExp,
  forbidden: (spec: string, target: string) => boolean,
): Promise<{ reached: string[]; seen: Set<string> }> {
  const seen = new Set<string>()
  const reached: string[] = []
  const visit = async (file: string, path: string[]) => {
    if (seen.has(file)) return
    seen.add(file)
    const text = await readFile(file, 'utf8')
    for (const m of text.matchAll(pattern)) {
      const spec = m[1]!
      const local = spec.startsWith('.')
      const target = local ? resolve(dirname(file), spec).replace(/\.js$/, '.ts') : spec
      const chain = [...path, local ? relative(ROOT, target) : spec]
      if (forbidden(spec, target)) reached.push(chain.join(' → '))
      else if (local) await visit(target, chain)
    }
  }
  for (const file of roots) await visit(file, [relative(ROOT, file)])
  return { reached, seen }
}

describe('layering', () => {
  it('keeps the library free of the CLI framework, so it is usable as an API', async () => {
    expect(await importing('src', /from '@oclif\//)).toEqual([])
    expect((await sources('src')).length).toBeGreaterThan(50)
  })

  it('keeps commands translating, never speaking HTTP themselves', async () => {
    expect(await importing('commands', /from 'undici'/)).toEqual([])
    expect(await importing('cli', /from 'undici'/)).toEqual([])
    expect((await sources('commands')).length).toBeGreaterThan(15)
  })

  it('imports between packages of src/ only downwards (the whole import DAG)', async () => {
    const edges = await packageImports()
    const packages = new Set(edges.flatMap((e) => [e.from, e.to]))
    expect([...packages].filter((p) => RANKS[p] === undefined)).toEqual([])
    const upward = edges
      .filter((e) => RANKS[e.to]! >= RANKS[e.from]!)
      .map((e) => `${e.file} imports ${e.to} (${e.from} ${RANKS[e.from]} → ${e.to} ${RANKS[e.to]})`)
    expect(upward).toEqual([])
    // The check is real: the graph has edges at every level, from the top down to the bottom.
    expect(edges.some((e) => e.from === 'serve' && e.to === 'layout')).toBe(true)
    expect(edges.some((e) => e.from === 'context' && e.to === 'registry')).toBe(true)
  })

  it('keeps src/content on the OCI model alone: it imports nothing but oci/, errors and node:', async () => {
    const allowed = (file: string, spec: string) => {
      if (spec.startsWith('node:')) return true
      if (!spec.startsWith('.')) return false
      const to = relative(SRC, resolve(dirname(file), spec))
      return to.startsWith('content/') || to.startsWith('oci/') || to === 'errors.js'
    }
    const outside: string[] = []
    for (const file of await sources('src/content')) {
      const text = await readFile(file, 'utf8')
      // Import statements and import() only: `Buffer.from('{}')` names no module.
      for (const m of text.matchAll(/(?<![.\w])(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        if (!allowed(file, m[1]!)) outside.push(`${relative(ROOT, file)} imports ${m[1]}`)
      }
    }
    expect(outside).toEqual([])
    // The check is real: memory.ts reads the OCI model and raises ferry's errors.
    expect((await importing('src/content', /from '\.\.\/oci\//)).length).toBeGreaterThan(0)
  })

  it('makes a registry client from settings in one place, the context, which commands build once', async () => {
    // The pull-through mirror's upstream client is the exception: a server's own, for its whole life,
    // with a retry budget made for a client that is waiting (serve/upstream/mirror.ts).
    const allowed = ['src/context.ts', 'src/serve/upstream/mirror.ts']
    const makers = [
      ...(await importing('src', /new RegistryClient\(/)),
      ...(await importing('commands', /new RegistryClient\(/)),
      ...(await importing('cli', /new RegistryClient\(/)),
    ]
    expect(makers.filter((f) => !allowed.includes(f))).toEqual([])
    expect(makers).toContain('src/context.ts')
    // Library entries take the context, never registry settings to make a client of their own.
    const settings = await importing('src', /extends (?:[\w, ]+, )?RegistryOptions\b/)
    expect(settings).toEqual(['src/context.ts'])
  })

  it('keeps copy and the graph walk on the storage contract: nothing they load reaches a backend', async () => {
    // File by file and transitively: a package of lower rank (sign, via cosign merges) must not bring a
    // backend in by the back door either. Backends reach copy only as Targets, from targets/.
    const backends = ['registry', 'layout', 'bundle', 'targets', 'serve']
    const roots = [...(await sources('src/copy')), ...(await sources('src/graph'))]
    const { reached, seen } = await walkImports(
      roots,
      /(?<![.\w])(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g,
      (_, target) => backends.includes(packageOf(target)),
    )
    expect(reached).toEqual([])
    // The check is real: the walk reached past copy and graph into the packages they stand on.
    expect([...seen].some((f) => f.includes('/src/sign/'))).toBe(true)
    expect([...seen].some((f) => f.includes('/src/content/'))).toBe(true)
  })

  it('keeps what `sync` loads at start-up free of signing, bundles and layouts (they load when used)', async () => {
    // Static value imports only: `import type` is erased and `import()` loads on first use. Each of
    // these cost `sync` start-up CPU on every run (bench/README.md, "Start-up").
    const heavy = /^(@sigstore\/|@noble\/|tweetnacl|pkcs11js|tar-stream|prom-client)/
    const lazy = ['supply', 'bundle', 'layout', 'evidence', 'serve']
    const { reached, seen } = await walkImports(
      [join(ROOT, 'commands', 'sync.ts')],
      /^(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?'([^']+)'/gm,
      (spec, target) =>
        spec.startsWith('.') ? target.startsWith(SRC) && lazy.includes(packageOf(target)) : heavy.test(spec),
    )
    expect(reached).toEqual([])
    // The walk is real: it reached the copy, the registry client and the policy.
    for (const pkg of ['copy', 'registry', 'policy']) {
      expect([...seen].some((f) => f.includes(`/src/${pkg}/`))).toBe(true)
    }
  })
})
