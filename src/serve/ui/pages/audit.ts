import { auditTarget } from '../../../audit/index.js'
import { plural } from '../../../util/plural.js'
import type { ServeContext } from '../../context.js'
import { type Html, html } from '../html.js'
import { badge, page, type Shell, shortDigest } from '../page.js'
import { requireRepository } from '../repository.js'

/** Whether there is anything to audit a repository against: the ledger the UI shows, or the policy. */
export const auditable = (ctx: ServeContext): boolean =>
  ctx.ui?.ledger !== undefined || ctx.policy !== undefined

/**
 * `ferry audit` of one repository, read from the registry's own store: tags the ledger recorded that now
 * name another digest or went away, and with --policy forbidden tags, images that do not verify and
 * missing labels. A page of its own, so the tags page stays a page of 50 rows: an audit reads every tag.
 */
export async function auditPage(ctx: ServeContext, shell: Shell, name: string): Promise<Html> {
  await requireRepository(ctx, name)
  const crumbs = html`<nav class="crumbs"><a href="/ui/">Repositories</a> / <a href="/ui/repo/${name}">${name}</a> /</nav>`
  if (!auditable(ctx)) {
    return page(
      shell,
      `${name}: drift`,
      html`${crumbs}<h1>Drift</h1><p class="muted">Nothing to compare with: start serve with --ledger FILE or --policy FILE.</p>`,
    )
  }
  const findings = await auditTarget(ctx.store.target(name), {
    repository: name,
    hosts: ctx.names,
    policy: ctx.policy?.policy,
    ledgerFile: ctx.ui?.ledger,
  })
  const rows = findings.map(
    (f) =>
      html`<tr data-kind="${f.kind}"><td>${f.severity === 'drift' ? badge('bad', f.kind) : badge('warn', f.kind)}</td><td>${f.image}</td><td class="mono" title="${f.digest ?? ''}">${
        f.digest ? shortDigest(f.digest) : ''
      }</td><td>${f.message}</td></tr>`,
  )
  return page(
    shell,
    `${name}: drift`,
    html`${crumbs}<h1>Drift</h1>
<p>${plural(findings.length, 'finding')} (what <code>ferry audit</code> reports for this repository).</p>
${rows.length ? html`<table id="drift"><thead><tr><th>Finding</th><th>Image</th><th>Digest</th><th>What</th></tr></thead><tbody>${rows}</tbody></table>` : html`<p class="muted">No drift: every recorded tag names what the ledger says, and no rule fails.</p>`}`,
  )
}
