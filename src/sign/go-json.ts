/**
 * JSON exactly as Go's `encoding/json.Marshal` writes it, for documents whose bytes are digested or signed
 * and must match what cosign and go-containerregistry produce for the same content.
 *
 * Differences from `JSON.stringify` that matter here:
 * - Go escapes `<`, `>`, `&` (HTML safety) and U+2028/U+2029 as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`;
 * - Go writes map keys sorted by their UTF-8 bytes (callers build objects with `sortedByGoKey`);
 * - Go replaces invalid UTF-8 (in JS: lone surrogates) with U+FFFD instead of escaping it.
 * Field order of structs is the caller's job: build objects in the struct's declaration order.
 * Since Go 1.22 `\b` and `\f` are written short, as `JSON.stringify` does.
 */
const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

function goStrings(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(LONE_SURROGATE, '\uFFFD')
  if (Array.isArray(value)) return value.map(goStrings)
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[goStrings(k) as string] = goStrings(v)
    return out
  }
  return value
}

/** Compact JSON text as Go would marshal `value` (objects keep their insertion order). */
export function goJsonText(value: unknown): string {
  // The five characters only ever occur inside string literals, so replacing them in the text is safe.
  return JSON.stringify(goStrings(value)).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]!)
}

/** UTF-8 bytes of `goJsonText(value)`. */
export function goJson(value: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(goJsonText(value), 'utf8'))
}

/** Go sorts map keys by their UTF-8 bytes; JS `sort()` compares UTF-16 units, which differs above U+FFFF. */
export function compareGoKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** A copy of a string map with keys in Go's marshalling order (a Go `map[string]T`). */
export function sortedByGoKey<T>(map: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const key of Object.keys(map).sort(compareGoKeys)) out[key] = map[key]!
  return out
}
