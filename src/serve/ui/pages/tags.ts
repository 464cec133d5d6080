import { ifPresent } from '../../../errors.js'
import { plural } from '../../../util/plural.js'
import type { ServeContext } from '../../context.js'
import { manifestFacts } from '../facts.js'
import { type Html, html, queryString } from '../html.js'
import { badge, formatBytes, formatTime, page, type Shell, shortDigest } from '../page.js'
import { pageAfter } from '../paging.js'
import { requireRepository, tagEntries, type UiVerdict, verdictOf } from '../repository.js'
import { auditable } from './audit.js'

export const verdictBadge = (v: UiVerdict): Html =>
  badge(v.kind === 'pass' ? 'ok' : v.kind === 'fail' ? 'bad' : v.kind === 'warn' ? 'warn' : 'none', v.summary)

/**
 * One repository's tags, paged by `?after=TAG`: digest, platforms, size, created, and with --policy the
 * environment and the pull gate's verdict. Only the page's rows read manifests and configs.
 */
export async function tagsPage(
  ctx: ServeContext,
  shell: Shell,
  name: string,
  query: URLSearchParams,
): Promise<Html> {
  await requireRepository(ctx, name)
  const { tags, attachments } = await tagEntries(ctx, name)
  const { items, next, before } = pageAfter(tags, (t) => t.tag, query.get('after') ?? undefined)
  const target = ctx.store.target(name)
  const policy = ctx.policy !== undefined && !ctx.mirror
  const rows = await Promise.all(
    items.map(async (t) => {
      const facts = await ifPresent(manifestFacts(target, t.digest))
      const verdict = await verdictOf(ctx, name, t.digest, t.tag)
      return html`<tr data-tag="${t.tag}">
<td><a href="/ui/repo/${name}:${t.tag}">${t.tag}</a></td>
<td><a class="mono" href="/ui/repo/${name}@${t.digest}" title="${t.digest}">${shortDigest(t.digest)}</a></td>
<td>${facts ? (facts.platforms.length ? facts.platforms.join(', ') : (facts.artifactType ?? facts.kind)) : html`<span class="muted">not here</span>`}</td>
<td class="num">${facts ? formatBytes(facts.size) : ''}</td>
<td>${formatTime(facts?.created)}</td>
${policy ? html`<td>${verdict?.environments.join(', ') || html`<span class="muted">none</span>`}</td><td>${verdict ? verdictBadge(verdict) : ''}</td>` : ''}
</tr>`
    }),
  )
  const columns = policy ? 7 : 5
  const hidden = attachments
    ? html`<p class="muted">${plural(attachments, 'attachment tag')} (cosign .sig/.att/.sbom, referrers indexes) are not listed: each image's page shows what is attached to it.</p>`
    : ''
  return page(
    shell,
    name,
    html`<nav class="crumbs"><a href="/ui/">Repositories</a> /</nav>
<h1>${name}</h1>
<table id="tags"><thead><tr><th>Tag</th><th>Digest</th><th>Platforms</th><th class="num">Size</th><th>Created</th>${
      policy ? html`<th>Environment</th><th>Policy</th>` : ''
    }</tr></thead>
<tbody>${rows.length ? rows : html`<tr><td colspan="${columns}" class="muted">No tags.</td></tr>`}</tbody></table>
<div class="pager"><span>${tags.length ? `${before + 1}–${before + items.length} of ${plural(tags.length, 'tag')}` : ''}</span>${
      next ? html`<a rel="next" href="/ui/repo/${name}${queryString({ after: next })}">Next page →</a>` : ''
    }</div>
${hidden}
${auditable(ctx) ? html`<p><a id="drift-link" href="/ui/audit/${name}">Drift: what ferry audit finds in ${name}</a></p>` : ''}`,
  )
}
