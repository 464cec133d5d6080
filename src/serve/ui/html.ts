/**
 * HTML built by a tagged template that escapes every value it is given: repository names, tags, labels,
 * history lines and SBOM fields are the pushers' text, and only `Html` (what `html` itself made) goes in
 * unescaped. Nothing else in the UI writes markup.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]!)

type Value = Html | string | number | boolean | null | undefined | readonly Value[]

function render(v: Value): string {
  if (v instanceof Html) return v.text
  if (Array.isArray(v)) return v.map(render).join('')
  if (v === null || v === undefined || v === false || v === true) return ''
  return escapeHtml(String(v))
}

/** Markup with every interpolated value escaped (arrays of values and of `Html` are joined). */
export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0]!
  for (const [i, v] of values.entries()) out += render(v) + strings[i + 1]!
  return new Html(out)
}

/** A query string from parameters, undefined and empty ones left out (`?q=a&after=b`, or ''). */
export function queryString(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v)
  return q.size ? `?${q}` : ''
}
