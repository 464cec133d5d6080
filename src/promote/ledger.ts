/**
 * The promotion ledger: one JSON line per promotion attempt, promoted or refused, so that "which commit
 * is running in prod, who moved it and what did it pass" is a grep away. Appends take a lock file next
 * to the ledger and write each record with one write(2) on an O_APPEND handle, then fsync: two
 * concurrent promotes never interleave or lose a line.
 */
import { open, readFile } from 'node:fs/promises'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { canonicalName } from '../reference/index.js'
import { errno } from '../util/files.js'
import { withLock } from '../util/lock.js'

export const ledgerRecordSchema = z.looseObject({
  /** RFC 3339, UTC. */
  time: z.string(),
  verdict: z.enum(['promoted', 'refused', 'unchanged']),
  source: z.string(),
  /** With its tag. */
  destination: z.string(),
  digest: z.string(),
  environment: z.string().nullable(),
  checks: z.array(z.looseObject({ rule: z.string(), result: z.string(), message: z.string() })),
  labels: z.looseObject({
    source: z.string().optional(),
    revision: z.string().optional(),
    created: z.string().optional(),
  }),
  forced: z.boolean(),
  ferryVersion: z.string(),
  /** What the destination tag named before a forced move. */
  previous: z.string().optional(),
  /** Why a refused attempt was refused, one line. */
  reason: z.string().optional(),
})

/** One attempt. Readers keep fields they do not know (a newer ferry may add some). */
export interface LedgerRecord {
  time: string
  verdict: 'promoted' | 'refused' | 'unchanged'
  source: string
  destination: string
  digest: string
  environment: string | null
  checks: { rule: string; result: string; message: string; evidence?: Record<string, unknown> }[]
  labels: { source?: string; revision?: string; created?: string }
  forced: boolean
  ferryVersion: string
  previous?: string
  reason?: string
}

export async function appendLedger(path: string, record: LedgerRecord): Promise<void> {
  const line = Buffer.from(`${JSON.stringify(record)}\n`)
  await withLock(`${path}.lock`, {}, async () => {
    const handle = await open(path, 'a', 0o644)
    try {
      await handle.write(line)
      await handle.sync()
    } finally {
      await handle.close()
    }
  })
}

export interface LedgerContents {
  records: LedgerRecord[]
  /** A last line without its newline: a write that a crash cut short, left out. */
  torn: boolean
}

export async function readLedger(path: string): Promise<LedgerContents> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new FerryError('NOT_FOUND', `${path}: no such ledger`)
    throw new FerryError('USAGE', `cannot read ${path}: ${errno(err) ?? err}`)
  }
  const lines = text.split('\n')
  const last = lines.pop() ?? ''
  const records: LedgerRecord[] = []
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue
    let doc: unknown
    try {
      doc = JSON.parse(line)
    } catch {
      throw new FerryError('USAGE', `${path}:${i + 1}: not JSON`)
    }
    const parsed = ledgerRecordSchema.safeParse(doc)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!
      throw new FerryError('USAGE', `${path}:${i + 1}: ${issue.path.join('.') || 'record'}: ${issue.message}`)
    }
    records.push(parsed.data as LedgerRecord)
  }
  return { records, torn: last.trim() !== '' }
}

/**
 * Records about a digest, or about a tag (`TAG` or `NAME:TAG` of the destination, however its host is
 * spelled: `LOCALHOST:5000/…` finds what `localhost:5000/…` recorded), oldest first.
 */
export function ledgerRecordsFor(records: readonly LedgerRecord[], key: string): LedgerRecord[] {
  const name = canonicalName(key)
  return records.filter(
    (r) => r.digest === key || canonicalName(r.destination) === name || r.destination.endsWith(`:${key}`),
  )
}
