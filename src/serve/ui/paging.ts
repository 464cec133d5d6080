/** Rows per page of every listing: a page costs a manifest and config read per row, not the whole list. */
export const PAGE_SIZE = 50

/**
 * One page of a sorted list: the items after `after` (a cursor, as `?last=` in the registry API), and
 * the cursor of the next page when more follow. The list itself is names only (index.json in memory);
 * what a row shows is read for the rows of the page alone.
 */
export function pageAfter<T>(
  sorted: readonly T[],
  key: (item: T) => string,
  after: string | undefined,
  size = PAGE_SIZE,
): { items: T[]; next?: string; before: number } {
  let start = 0
  if (after !== undefined) {
    // Binary search: the first item whose key sorts after the cursor.
    let hi = sorted.length
    while (start < hi) {
      const mid = (start + hi) >>> 1
      if (key(sorted[mid]!) <= after) start = mid + 1
      else hi = mid
    }
  }
  const items = sorted.slice(start, start + size)
  const more = start + size < sorted.length
  return { items, before: start, ...(more && items.length ? { next: key(items.at(-1)!) } : {}) }
}

/** JavaScript's default string order (UTF-16 code units), the order `key(...) <= after` compares in. */
export const byKey =
  <T>(key: (item: T) => string) =>
  (a: T, b: T): number => {
    const x = key(a)
    const y = key(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
