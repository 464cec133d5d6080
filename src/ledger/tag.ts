import { appendLedger, rfc3339 } from './append.js'

/** One `ferry tag` attempt, as retag knows it. */
export interface TagAttempt {
  /** The image as given. */
  source: string
  /** REPOSITORY:TAG written (or refused). */
  destination: string
  digest: string
  /** What the tag named before. */
  previous?: string
  environment: string | null
  verdict: 'tagged' | 'refused' | 'unchanged'
  reason?: string
  checks?: { rule: string; result: string; message: string }[]
}

/** Appends the attempt to `ledger` when there is one: a change record with operation `tag`. */
export async function recordTag(
  opts: { ledger?: string; ferryVersion?: string },
  attempt: TagAttempt,
): Promise<void> {
  if (!opts.ledger) return
  const { previous, reason, checks, ...rest } = attempt
  await appendLedger(opts.ledger, {
    time: rfc3339(new Date()),
    operation: 'tag',
    ...rest,
    ...(previous && previous !== attempt.digest ? { previous } : {}),
    checks: checks ?? [],
    labels: {},
    forced: false,
    ferryVersion: opts.ferryVersion ?? 'unknown',
    ...(reason ? { reason } : {}),
  })
}
