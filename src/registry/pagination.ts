import type { z } from 'zod'
import { FerryError } from '../errors.js'
import type { RegistryHttp, RegistryRequest } from './http.js'
import { header, readLimited } from './transport.js'

/** `<url>; rel="next"` (RFC 8288), as distribution sends it for tags/list, _catalog and referrers. */
export function nextLink(value: string | undefined, base: URL): URL | undefined {
  if (!value) return undefined
  for (const part of value.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part)
    if (m && /;\s*rel="?next"?(?:\s*;|\s*$)/i.test(m[2]!)) {
      try {
        return new URL(m[1]!, base)
      } catch {
        return undefined
      }
    }
  }
  return undefined
}

const PAGE_LIMIT = 1024 * 1024 * 8
const MAX_PAGES = 10_000

/**
 * Reads every page of a paginated JSON list, following `Link: rel="next"` on the same origin.
 * `pick` extracts the page's items from the zod-checked document.
 */
export async function readPages<S extends z.ZodType, T>(
  http: RegistryHttp,
  first: Omit<RegistryRequest, 'method' | 'expect'>,
  schema: S,
  pick: (doc: z.infer<S>) => T[],
): Promise<T[]> {
  const out: T[] = []
  const seen = new Set<string>()
  let url: URL | undefined = first.url
  for (let page = 0; url && page < MAX_PAGES; page++) {
    seen.add(url.toString())
    const { res, value: text } = await http.fetch({ ...first, url, method: 'GET', expect: [200] }, (r) =>
      readLimited(r, PAGE_LIMIT),
    )
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch {
      throw new FerryError('REGISTRY', `${first.subject}: registry sent a list that is not JSON`)
    }
    const parsed = schema.safeParse(doc)
    if (!parsed.success)
      throw new FerryError('REGISTRY', `${first.subject}: registry sent an unexpected list`)
    out.push(...pick(parsed.data))
    const next = nextLink(header(res, 'link'), url)
    // Another origin would get our credentials' scope in a query; a repeated URL would loop forever.
    url = next && next.origin === url.origin && !seen.has(next.toString()) ? next : undefined
  }
  return out
}
