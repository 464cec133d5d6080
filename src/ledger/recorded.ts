import { canonicalName, parseReference } from '../reference/index.js'
import type { LedgerContents } from './read.js'
import type { LedgerRecord } from './record.js'

/** Verdicts after which the tag named the record's digest: the ledger's word on where a tag stands. */
const SUCCESSFUL: ReadonlySet<LedgerRecord['verdict']> = new Set([
  'promoted',
  'tagged',
  'written',
  'unchanged',
])

/** The ledger's last successful record of one tag: what it named then, and where the ledger says so. */
export interface RecordedTag {
  /** `HOST/PATH` in canonical form, and the tag. */
  repository: string
  tag: string
  digest: string
  /** The ledger file and the record's 1-based line in it. */
  file: string
  line: number
  time: string
  actor?: string
  /** `promote` or `tag` (records written before the chain were promotions). */
  operation: string
  verdict: LedgerRecord['verdict']
}

/** `promotions.jsonl:3 (2026-12-01T10:00:00Z, promote by alice@ci)`: where a recorded tag is written. */
export const recordedAt = (r: RecordedTag): string =>
  `${r.file}:${r.line} (${r.time}, ${r.operation}${r.actor ? ` by ${r.actor}` : ''})`

/** The repository (canonical `HOST/PATH`) and tag a record's destination names; undefined without a tag. */
function destinationOf(r: LedgerRecord): { repository: string; tag: string } | undefined {
  try {
    const ref = parseReference(r.destination)
    if (ref.kind !== 'registry' || ref.tag === undefined) return undefined
    const name = canonicalName(`${ref.registry}/${ref.repository}`)
    return { repository: name, tag: ref.tag }
  } catch {
    return undefined
  }
}

/**
 * The last successful record (promoted, tagged, written by copy, sync, import, restore or a push to
 * `serve`, or unchanged) of every registry tag the ledger names, keyed by the canonical `HOST/PATH:TAG`:
 * however the host was spelled when it was written, it is one tag. Refused attempts change nothing and
 * are not counted; a recorded delete of the tag ends what the ledger says of it.
 */
export function lastRecordedTags(file: string, ledger: LedgerContents): Map<string, RecordedTag> {
  const out = new Map<string, RecordedTag>()
  for (const [i, r] of ledger.records.entries()) {
    const at = destinationOf(r)
    if (!at) continue
    if (r.verdict === 'deleted') out.delete(`${at.repository}:${at.tag}`)
    if (!SUCCESSFUL.has(r.verdict)) continue
    out.set(`${at.repository}:${at.tag}`, {
      ...at,
      digest: r.digest,
      file,
      line: ledger.lines[i]!,
      time: r.time,
      ...(r.actor ? { actor: r.actor } : {}),
      operation: r.operation ?? 'promote',
      verdict: r.verdict,
    })
  }
  return out
}

/** The key `lastRecordedTags` files a tag under. */
export const recordedTagKey = (repository: string, tag: string): string =>
  `${canonicalName(repository)}:${tag}`
