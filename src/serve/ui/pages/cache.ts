import { plural } from '../../../util/plural.js'
import type { ServeContext } from '../../context.js'
import { type Html, html, queryString } from '../html.js'
import { UiNotFound } from '../not-found.js'
import { badge, formatAge, formatBytes, page, type Shell, shortDigest } from '../page.js'
import { pageAfter } from '../paging.js'

/**
 * The pull-through cache: hits and misses since start, the bytes fetched from upstream against those
 * served from the cache, and each cached tag with how long ago upstream confirmed it (stale past the
 * TTL: the next pull asks upstream again, or is served as is while upstream is down).
 */
export async function cachePage(ctx: ServeContext, shell: Shell, query: URLSearchParams): Promise<Html> {
  const mirror = ctx.mirror
  if (!mirror) throw new UiNotFound('this registry is not a pull-through cache')
  const s = mirror.stats
  const now = Date.now()
  const tags = mirror.cachedTags(now)
  const key = (t: (typeof tags)[number]) => `${t.repository}:${t.tag}`
  const { items, next, before } = pageAfter(tags, key, query.get('after') ?? undefined)
  const stat = (label: string, id: string, value: string) =>
    html`<dt>${label}</dt><dd id="${id}">${value}</dd>`
  return page(
    shell,
    'Cache',
    html`<h1>Pull-through cache</h1>
<dl class="facts">
<dt>Upstreams</dt><dd>${mirror.upstreams.map((u, i) => `${u.name} (${u.host})${i === 0 ? ', default' : ''}`).join('; ')}</dd>
<dt>Tag TTL</dt><dd>${formatAge(mirror.ttlMs)}</dd>
${stat('Manifest hits / misses', 'manifest-hits', `${s.hits.manifest} / ${s.misses.manifest}`)}
${stat('Blob hits / misses', 'blob-hits', `${s.hits.blob} / ${s.misses.blob}`)}
${stat('Fetched from upstream', 'bytes-upstream', formatBytes(s.bytesFromUpstream))}
${stat('Served from the cache', 'bytes-cache', formatBytes(s.bytesFromCache))}
${stat('Upstream requests / errors', 'upstream-requests', `${s.upstreamRequests} / ${s.upstreamErrors}`)}
${stat('Evicted', 'evicted', `${plural(s.evictions, 'blob')}, ${formatBytes(s.evictedBytes)}`)}
</dl>
<p class="muted">Counts since the server started.</p>
<h2>Cached tags</h2>
<table id="cached-tags"><thead><tr><th>Repository</th><th>Tag</th><th>Digest</th><th>Confirmed by upstream</th><th>Last pulled</th><th>State</th></tr></thead>
<tbody>${
      items.length
        ? items.map(
            (t) =>
              html`<tr><td><a href="/ui/repo/${t.repository}">${t.repository}</a></td><td><a href="/ui/repo/${t.repository}:${t.tag}">${t.tag}</a></td><td class="mono" title="${t.digest}">${shortDigest(t.digest)}</td><td>${formatAge(now - t.checkedAt)} ago</td><td>${
                t.pulledAt ? `${formatAge(now - t.pulledAt)} ago` : ''
              }</td><td>${t.stale ? badge('warn', 'stale') : badge('ok', 'fresh')}</td></tr>`,
          )
        : html`<tr><td colspan="6" class="muted">Nothing cached yet.</td></tr>`
    }</tbody></table>
<div class="pager"><span>${tags.length ? `${before + 1}–${before + items.length} of ${tags.length}` : ''}</span>${
      next ? html`<a rel="next" href="/ui/cache${queryString({ after: next })}">Next page →</a>` : ''
    }</div>`,
  )
}
