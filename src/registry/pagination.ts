import type { z } from 'zod'
import { FerryError } from '../errors.js'
import type { RegistryHttp, RegistryRequest } from './http.js'
import { header, type RawResponse, readBytes } from './transport.js'

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

/** Bounds on one listing, whatever a registry sends: pages followed, and bytes read over all of them. */
export const MAX_PAGES = 10_000
export const MAX_LISTING_BYTES = 64 * 1024 * 1024

/**
 * One walk over `Link: rel="next"` pages. A hostile or broken registry can link a page to itself, link
 * distinct pages without end, send one page of gigabytes, or continue the list on another origin: every
 * URL is followed once, at most MAX_PAGES pages and MAX_LISTING_BYTES bytes in all are read, a next page
 * elsewhere is not followed, and each of these fails the listing (never a silently shortened list).
 */
export class PageWalk {
  private readonly seen = new Set<string>()
  private pages = 0
  private bytes = 0

  constructor(private readonly subject: string) {}

  /** Before fetching `url`: refuses a page already read and one past the page cap. */
  visit(url: URL): void {
    const key = url.toString()
    if (this.seen.has(key)) {
      throw new FerryError(
        'REGISTRY',
        `${this.subject}: the registry's list links back to a page it already sent (${url.pathname}${url.search}); not following a loop`,
      )
    }
    if (++this.pages > MAX_PAGES) {
      throw new FerryError('REGISTRY', `${this.subject}: the registry's list goes on past ${MAX_PAGES} pages`)
    }
    this.seen.add(key)
  }

  /**
   * The page after `url`, from its response's `Link` header; undefined after the last page. A next page on
   * another origin fails the listing: following it would carry this registry's credentials to another
   * host (or from https to http), and stopping there would hand callers a partial list they cannot tell
   * from a whole one (retention would delete what a missing tag still names).
   */
  next(res: RawResponse, url: URL): URL | undefined {
    const next = nextLink(header(res, 'link'), url)
    if (!next || next.origin === url.origin) return next
    throw new FerryError(
      'REGISTRY',
      `${this.subject}: the registry's list is incomplete: its next page is on another origin, ${next.origin} (this is ${url.origin}); not following it, and not using a partial list`,
    )
  }

  /** One page's body, read within what is left of the listing's byte budget. */
  async read(res: RawResponse): Promise<string> {
    const room = MAX_LISTING_BYTES - this.bytes
    const body = await readBytes(
      res,
      room,
      () =>
        new FerryError(
          'REGISTRY',
          `${this.subject}: the registry's list is larger than ${MAX_LISTING_BYTES / 1024 / 1024} MiB`,
        ),
    )
    this.bytes += body.length
    return body.toString('utf8')
  }
}

/**
 * Reads every page of a paginated JSON list, following `Link: rel="next"` on the same origin (a next
 * page elsewhere fails the listing, see PageWalk.next). `pick` extracts the page's items from the
 * zod-checked document.
 */
export async function readPages<S extends z.ZodType, T>(
  http: RegistryHttp,
  first: Omit<RegistryRequest, 'method' | 'expect'>,
  schema: S,
  pick: (doc: z.infer<S>) => T[],
): Promise<T[]> {
  const out: T[] = []
  const walk = new PageWalk(first.subject)
  let url: URL | undefined = first.url
  while (url) {
    walk.visit(url)
    const { res, value: text } = await http.fetch({ ...first, url, method: 'GET', expect: [200] }, (r) =>
      walk.read(r),
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
    url = walk.next(res, url)
  }
  return out
}
