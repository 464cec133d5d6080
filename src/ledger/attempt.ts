import { type AppendOptions, appendLedger, rfc3339 } from './append.js'
import type { LedgerRecord } from './record.js'

/**
 * One attempt to write or remove a tag or manifest, by any command but promote (which records more):
 * tag, copy, sync, bundle import, delete, retention apply and restore, and `serve` for its clients.
 */
export interface WriteAttempt {
  /** `tag`, `copy`, `sync`, `bundle-import`, `delete`, `retention-apply`, `retention-restore`, `push`, `pull`… */
  operation: string
  /** What was written from: the image as given, a bundle, a backup, a request. */
  source: string
  /** `NAME:TAG` (or `NAME@DIGEST`) written, removed or refused. */
  destination: string
  /** What the destination names after the change (or would have named; for a removal, what went). */
  digest: string
  /** What the tag named before, when it named another digest. */
  previous?: string
  environment: string | null
  verdict: LedgerRecord['verdict']
  reason?: string
  checks?: { rule: string; result: string; message: string }[]
}

/** Appends the attempt to `ledger` when there is one: a change record, chained (append.ts). */
export async function recordAttempt(
  opts: { ledger?: string; ferryVersion?: string; actor?: string },
  attempt: WriteAttempt,
  append: AppendOptions = {},
): Promise<void> {
  if (!opts.ledger) return
  const { previous, reason, checks, ...rest } = attempt
  await appendLedger(
    opts.ledger,
    {
      time: rfc3339(append.now?.() ?? new Date()),
      ...rest,
      ...(previous && previous !== attempt.digest ? { previous } : {}),
      checks: checks ?? [],
      labels: {},
      forced: false,
      ferryVersion: opts.ferryVersion ?? 'unknown',
      ...(reason ? { reason } : {}),
    },
    { ...append, ...(opts.actor ? { actor: opts.actor } : {}) },
  )
}
