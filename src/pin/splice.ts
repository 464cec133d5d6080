/**
 * Byte-preserving edits of a YAML text: new scalar text goes exactly where the old scalar's source was,
 * in the same quoting style, and nothing else moves. Re-serialising the document instead would reflow
 * lines, drop blank lines and requote values, and a reviewer could no longer see that only images changed.
 */
import type { Scalar, YAMLMap } from 'yaml'
import { FerryError } from '../errors.js'

export interface Edit {
  start: number
  end: number
  text: string
}

/** The scalar's text as written, for plain scalars whose parsed value would differ (`tag: 1.10` is 1.1). */
export function scalarSource(text: string, node: Scalar): string {
  if (node.value === null || node.value === undefined) return ''
  return node.type === 'PLAIN' ? text.slice(node.range![0], node.range![1]) : String(node.value)
}

// Characters that would end or change a plain scalar; an image reference never has them, but a
// mapping could produce one, and then it is quoted rather than written into the YAML as syntax.
const PLAIN_UNSAFE = /^[-?:,[\]{}#&*!|>'"%@`\s]|: |\s#|[\s]$|^$/

function quoted(value: string, style: Scalar['type']): string {
  switch (style) {
    case 'QUOTE_SINGLE':
      return `'${value.replaceAll("'", "''")}'`
    case 'QUOTE_DOUBLE':
      return JSON.stringify(value)
    default:
      return PLAIN_UNSAFE.test(value) ? JSON.stringify(value) : value
  }
}

/** Replaces a scalar's source with `value`, keeping its quotes; an empty `key:` gets ` value`. */
export function replaceScalar(text: string, node: Scalar, value: string): Edit {
  const [start, end] = node.range!
  if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED')
    throw new FerryError('USAGE', `a block scalar (| or >) holds an image reference; write it on one line`)
  if (start === end) {
    // `digest:` with nothing after it: the value starts right after the colon.
    const space = text[start - 1] === ':' ? ' ' : ''
    return { start, end, text: `${space}${quoted(value, 'PLAIN')}` }
  }
  return { start, end, text: quoted(value, node.type) }
}

/**
 * A new `key: value` line in a block map, after its last entry and at the indentation of its first
 * key. Flow maps (`{ name: x }`) are refused: there is no line to add.
 */
export function appendPair(text: string, map: YAMLMap, key: string, value: string): Edit {
  if (map.flow)
    throw new FerryError('USAGE', `cannot add ${key} to a flow map ({ … }); write the entry as a block`)
  const first = map.items[0]!.key as Scalar
  const lineStart = text.lastIndexOf('\n', first.range![0] - 1) + 1
  const indent = ' '.repeat(first.range![0] - lineStart)
  // The line after the map's last value (its range's end stops before a trailing comment).
  const last = map.items.at(-1)!.value as Scalar
  const eol = text.indexOf('\n', last.range![1])
  const at = eol < 0 ? text.length : eol + 1
  const line = `${indent}${key}: ${quoted(value, 'PLAIN')}`
  return eol < 0 ? { start: at, end: at, text: `\n${line}` } : { start: at, end: at, text: `${line}\n` }
}

/**
 * Applies edits (in any order). The same edit twice is applied once (bitnami's `global.imageRegistry`
 * is edited for every image under it); two different edits of one place cannot both hold.
 */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start)
  let out = ''
  let pos = 0
  let previous: Edit | undefined
  for (const e of sorted) {
    const same = previous && previous.start === e.start && previous.end === e.end
    if (same && previous!.text === e.text && e.start !== e.end) continue
    if (e.start < pos || (same && e.start !== e.end))
      throw new FerryError(
        'USAGE',
        `two images need different text at offset ${e.start}: "${previous?.text}" and "${e.text}"`,
      )
    out += text.slice(pos, e.start) + e.text
    pos = e.end
    previous = e
  }
  return out + text.slice(pos)
}
