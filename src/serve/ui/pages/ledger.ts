import { type LedgerRecord, readLedger } from '../../../ledger/index.js'
import { canonicalName } from '../../../reference/index.js'
import type { ServeContext } from '../../context.js'
import { type Html, html } from '../html.js'
import { badge, formatTime, shortDigest } from '../page.js'

/** The records about NAME/REPO:TAG under any name the registry goes by, oldest first. */
async function recordsFor(
  ctx: ServeContext,
  file: string,
  repository: string,
  tag: string,
): Promise<LedgerRecord[]> {
  const wanted = new Set(ctx.names.map((n) => canonicalName(`${n}/${repository}:${tag}`)))
  const { records } = await readLedger(file)
  return records.filter((r) => {
    try {
      return wanted.has(canonicalName(r.destination))
    } catch {
      return false
    }
  })
}

/** Who moved the tag, when, to what, and what the policy said: the ledger's records of this tag. */
export async function ledgerSection(
  ctx: ServeContext,
  file: string,
  repository: string,
  tag: string,
): Promise<Html> {
  let records: LedgerRecord[]
  try {
    records = await recordsFor(ctx, file, repository, tag)
  } catch (err) {
    return html`<h2 id="ledger">History (ledger)</h2><p>${badge('warn', 'unreadable')} ${(err as Error).message}</p>`
  }
  const rows = [...records]
    .reverse()
    .map(
      (r) =>
        html`<tr><td>${formatTime(r.time)}</td><td>${r.operation ?? 'promote'}</td><td>${
          r.verdict === 'refused' ? badge('bad', r.verdict) : badge('ok', r.verdict)
        }</td><td>${r.actor ?? ''}</td><td class="mono" title="${r.digest}">${shortDigest(r.digest)}</td><td class="mono" title="${r.previous ?? ''}">${
          r.previous ? shortDigest(r.previous) : ''
        }</td><td>${r.environment ?? ''}</td><td>${r.source}</td><td>${r.reason ?? ''}</td></tr>`,
    )
  return html`<h2 id="ledger">History (ledger)</h2>
${rows.length ? html`<table><thead><tr><th>When</th><th>Operation</th><th>Verdict</th><th>Who</th><th>Digest</th><th>Before</th><th>Environment</th><th>Source</th><th>Why refused</th></tr></thead><tbody>${rows}</tbody></table>` : html`<p class="muted">The ledger holds no record of ${repository}:${tag}.</p>`}`
}
