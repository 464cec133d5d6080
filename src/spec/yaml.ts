/**
 * YAML specs (sync, bundle, policy files) are written by hand, so every error points at the place to
 * fix: `FILE:LINE:COL: path.to.field: what is wrong`, the format editors and CI annotations link. Several
 * problems are all reported, after a `FILE: N problems` line, one per line in file order.
 * Syntax errors come from the parser's own positions; schema errors map the zod issue path back to the
 * YAML node it came from, or to the closest enclosing node when the field is missing.
 */
import { readFile } from 'node:fs/promises'
import {
  type Alias,
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml'
import type { z } from 'zod'
import { FerryError } from '../errors.js'
import { clipMiddle } from '../log.js'

/** What an error may quote of the spec: values are echoed, and a value can be 50 MB. */
const MAX_EXPLANATION = 300

interface Located {
  /** Offset into the text of the node the issue is about, or of its closest existing parent. */
  offset: number
  /** The node the whole path resolved to (for an unknown field: its key). */
  node?: Node
  /** True when the path ends at a node that does not exist. */
  missing: boolean
}

export function loadYamlSpec<T>(text: string, schema: z.ZodType<T>, source: string): T {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true })
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset)
    return `${source}:${line}:${col}`
  }

  const syntax = doc.errors[0]
  if (syntax) {
    // The parser's message carries "at line L, column C:" and a source excerpt over several lines.
    const message = syntax.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    throw new FerryError('USAGE', `${at(syntax.pos[0])}: ${clipMiddle(message, MAX_EXPLANATION)}`)
  }
  if (doc.contents === null) throw new FerryError('USAGE', `${at(0)}: the file is empty`)

  let value: unknown
  try {
    value = doc.toJS()
  } catch (err) {
    // The parser's guard against alias bombs ("billion laughs"): its error names no place.
    if (!(err instanceof ReferenceError) || !/^Excessive alias count/.test(err.message)) throw err
    const alias = nestedAlias(doc)
    throw new FerryError(
      'USAGE',
      `${at(rangeStart(alias) ?? 0)}: alias *${alias?.source ?? ''} expands into aliases past the limit (a YAML alias bomb?): write the values out`,
    )
  }
  const result = schema.safeParse(value)
  if (result.success) return result.data

  // Every problem, in file order, one per line: a hand-edited spec is fixed in one pass, not one per run.
  const lines = result.error.issues
    .flatMap((issue): { issue: z.core.$ZodIssue; path: PropertyKey[] }[] =>
      // One line per unknown field, each at its own key.
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({ issue, path: [...issue.path, key] }))
        : [{ issue, path: issue.path }],
    )
    .map(({ issue, path }) => ({ issue, path, where: locate(doc, issue, path) }))
    .sort((a, b) => a.where.offset - b.where.offset)
    .map(({ issue, path, where }) => {
      const field = formatPath(path)
      return `${at(where.offset)}: ${field ? `${clipMiddle(field, MAX_EXPLANATION)}: ` : ''}${clipMiddle(explain(issue, where), MAX_EXPLANATION)}`
    })
  const unique = [...new Set(lines)]
  throw new FerryError(
    'USAGE',
    unique.length === 1 ? unique[0]! : [`${source}: ${unique.length} problems`, ...unique].join('\n'),
  )
}

export async function readYamlSpec<T>(path: string, schema: z.ZodType<T>): Promise<T> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new FerryError(
      'USAGE',
      `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? String(err))}`,
    )
  }
  return loadYamlSpec(text, schema, path)
}

/** The first alias whose anchor holds aliases itself: where expansion multiplies. */
function nestedAlias(doc: Document): Alias | undefined {
  let first: Alias | undefined
  let nested: Alias | undefined
  visit(doc, {
    Alias(_, node) {
      first ??= node
      const target = node.resolve(doc)
      let inner = false
      if (target)
        visit(target, {
          Alias() {
            inner = true
            return visit.BREAK
          },
        })
      if (!inner) return undefined
      nested = node
      return visit.BREAK
    },
  })
  return nested ?? first
}

/** `images[1].tags.semver` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out ? `.${String(key)}` : String(key)
  }
  return out
}

function locate(doc: Document, issue: z.core.$ZodIssue, path: readonly PropertyKey[]): Located {
  let node: unknown = doc.contents
  let offset = rangeStart(node) ?? 0
  for (const [i, key] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc)
    let next: unknown
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(key))
      // An unknown key points at the key itself; a known one at its value, or its key when it has none.
      const wantKey = issue.code === 'unrecognized_keys' && i === path.length - 1
      if (pair) next = wantKey || isEmpty(pair.value) ? pair.key : pair.value
    } else if (isSeq(node) && typeof key === 'number') {
      next = node.items[key]
    }
    const start = rangeStart(next)
    if (start === undefined) return { offset, missing: true }
    node = next
    offset = start
  }
  return { offset, node: node as Node, missing: false }
}

// `key:` with nothing after it: the empty value sits past the colon, the key is the better place to point.
function isEmpty(value: unknown): boolean {
  return rangeStart(value) === undefined || (isScalar(value) && value.value === null && !value.source)
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range
  return range ? range[0] : undefined
}

function explain(issue: z.core.$ZodIssue, where: Located): string {
  if (issue.code === 'unrecognized_keys') return 'unknown field'
  if (where.missing) return 'required field is missing'
  if (issue.code === 'invalid_type') {
    const node = where.node
    // YAML reads 16 and 1.10 as numbers (the latter as 1.1) and true as a boolean: name the fix.
    if (
      issue.expected === 'string' &&
      isScalar(node) &&
      typeof node.value !== 'string' &&
      node.value !== null
    ) {
      return `expected a string, got ${node.source ?? String(node.value)} (quote it: "${node.source ?? node.value}")`
    }
  }
  return issue.message.replace(/^Invalid input: /, '')
}
