import type { ServeContext } from '../../context.js'
import { type Html, html, queryString } from '../html.js'
import { page, type Shell } from '../page.js'
import { pageAfter } from '../paging.js'
import { repositoryNames, tagEntries } from '../repository.js'

// A filter is a substring; longer would only be a way to make the server scan with a huge needle.
const FILTER_MAX = 200

/** Every repository, filtered by `?q=` (a substring) and paged by `?after=NAME`. */
export async function repositoriesPage(
  ctx: ServeContext,
  shell: Shell,
  query: URLSearchParams,
): Promise<Html> {
  const q = (query.get('q') ?? '').slice(0, FILTER_MAX)
  const after = query.get('after') ?? undefined
  const all = await repositoryNames(ctx)
  const needle = q.toLowerCase()
  const matching = needle ? all.filter((n) => n.toLowerCase().includes(needle)) : all
  const { items, next, before } = pageAfter(matching, (n) => n, after)
  const rows = await Promise.all(
    items.map(async (name) => {
      const { tags } = await tagEntries(ctx, name)
      return html`<tr><td><a href="/ui/repo/${name}">${name}</a></td><td class="num">${tags.length}</td></tr>`
    }),
  )
  const shown =
    matching.length === 0
      ? 'none'
      : `${before + 1}–${before + items.length} of ${matching.length}${q ? ` matching “${q}”` : ''}`
  return page(
    shell,
    'Repositories',
    html`<h1>Repositories</h1>
<form class="filter" method="get" action="/ui/" role="search">
<input type="search" name="q" value="${q}" placeholder="Filter repositories" aria-label="Filter repositories">
<button type="submit">Filter</button>${q ? html` <a class="button" href="/ui/">Clear</a>` : ''}
</form>
<table id="repositories"><thead><tr><th>Repository</th><th class="num">Tags</th></tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="2" class="muted">No repositories${q ? ' match' : ' yet'}.</td></tr>`}</tbody></table>
<div class="pager"><span>${shown}</span>${next ? html`<a rel="next" href="/ui/${queryString({ q, after: next })}">Next page →</a>` : ''}</div>`,
  )
}
