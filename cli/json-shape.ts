/**
 * The shape of a command's `--json` document, as its --help shows it (JSON OUTPUT) and the tests check
 * it: a leaf is a type (`string`, `number`, `boolean`, `null`, `object` for an opaque document, a quoted
 * literal like `"copied"`, or alternatives joined by ` | `); `[shape]` is an array of that shape; an
 * object lists its keys, a key ending in `?` may be absent, and the key `*` stands for any key (a map).
 */
export type JsonShape = string | readonly [JsonShape] | { readonly [key: string]: JsonShape }

/** Rendered like JSON with types for values, two spaces per level. */
export function renderShape(shape: JsonShape, indent = ''): string {
  if (typeof shape === 'string') return shape
  if (Array.isArray(shape)) return `[${renderShape(shape[0] as JsonShape, indent)}]`
  const inner = `${indent}  `
  const entries = Object.entries(shape as Record<string, JsonShape>).map(([key, value]) => {
    const name = key === '*' ? '"<any key>"' : key.endsWith('?') ? `"${key.slice(0, -1)}"?` : `"${key}"`
    return `${inner}${name}: ${renderShape(value, inner)}`
  })
  return `{\n${entries.join(',\n')}\n${indent}}`
}

/** Where `value` departs from `shape`: unexpected or missing keys, or a leaf of another type. */
export function shapeProblems(shape: JsonShape, value: unknown, path = '$'): string[] {
  if (typeof shape === 'string') return leafProblem(shape, value, path)
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return [`${path}: expected an array`]
    return value.flatMap((v, i) => shapeProblems(shape[0] as JsonShape, v, `${path}[${i}]`))
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return [`${path}: expected an object`]
  const fields = shape as Record<string, JsonShape>
  const actual = value as Record<string, unknown>
  if ('*' in fields) {
    return Object.entries(actual).flatMap(([k, v]) => shapeProblems(fields['*']!, v, `${path}.${k}`))
  }
  const problems: string[] = []
  const documented = new Map(
    Object.entries(fields).map(([k, s]) => [k.replace(/\?$/, ''), { s, optional: k.endsWith('?') }]),
  )
  for (const [key, { s, optional }] of documented) {
    if (!(key in actual)) {
      if (!optional) problems.push(`${path}.${key}: missing`)
      continue
    }
    problems.push(...shapeProblems(s, actual[key], `${path}.${key}`))
  }
  for (const key of Object.keys(actual)) {
    if (!documented.has(key)) problems.push(`${path}.${key}: not documented`)
  }
  return problems
}

function leafProblem(type: string, value: unknown, path: string): string[] {
  const alternatives = type.split('|').map((t) => t.trim())
  const ok = alternatives.some((t) => {
    if (t === 'null') return value === null
    if (t === 'object') return typeof value === 'object' && value !== null
    if (t.startsWith('"')) return value === JSON.parse(t)
    return typeof value === t
  })
  return ok ? [] : [`${path}: expected ${type}, got ${JSON.stringify(value)}`]
}
