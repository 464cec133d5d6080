import { readFile } from 'node:fs/promises'
import { FerryError } from '../errors.js'
import { canonicalName } from '../reference/index.js'
import { errno } from '../util/files.js'
import { type Line, splitLines } from './chain.js'
import { type CheckpointRecord, type LedgerRecord, type ParsedLine, parseLine } from './record.js'

export interface LedgerContents {
  /** Promotions and tags, oldest first. */
  records: LedgerRecord[]
  /** The 1-based line in the file of each of `records` (as editors number them): `FILE:LINE` in messages. */
  lines: number[]
  checkpoints: CheckpointRecord[]
  /** A last line without its newline: a write that a crash cut short, left out. */
  torn: boolean
  /** Lines that are no record, left out: torn lines a repair record names, and any other damage. */
  skipped: { line: number; why: string }[]
}

export interface LedgerFile {
  lines: Line[]
  parsed: ParsedLine[]
  tail?: Line
}

/** The file's lines, each parsed. */
export async function readLedgerFile(path: string): Promise<LedgerFile> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new FerryError('NOT_FOUND', `${path}: no such ledger`)
    throw new FerryError('USAGE', `cannot read ${path}: ${errno(err) ?? err}`)
  }
  const { lines, tail } = splitLines(bytes)
  return { lines, parsed: lines.map((l) => parseLine(l.bytes)), ...(tail ? { tail } : {}) }
}

/** Whether line `i` is one a crash cut short: the repair record right after it names it. */
export function tornAt(file: LedgerFile, i: number): boolean {
  const next = file.parsed[i + 1]
  return next?.kind === 'repair' && next.record.torn.seq === i + 1
}

/**
 * Every record that reads, whatever else the file holds: a damaged line is left out and reported, not
 * a reason to read nothing. Whether the chain holds is `verifyLedger`'s question.
 */
export async function readLedger(path: string): Promise<LedgerContents> {
  const file = await readLedgerFile(path)
  const out: LedgerContents = {
    records: [],
    lines: [],
    checkpoints: [],
    torn: file.tail !== undefined,
    skipped: [],
  }
  for (const [i, p] of file.parsed.entries()) {
    const line = file.lines[i]!.number
    if (tornAt(file, i)) out.skipped.push({ line, why: 'a torn write (a repair record follows)' })
    else if (p.kind === 'change') {
      out.records.push(p.record)
      out.lines.push(line)
    } else if (p.kind === 'checkpoint') out.checkpoints.push(p.record)
    else if (p.kind === 'bad') out.skipped.push({ line, why: p.why })
  }
  const nothing = out.records.length + out.checkpoints.length === 0
  if (nothing && out.skipped.length > 0) {
    const first = out.skipped[0]!
    throw new FerryError('USAGE', `${path}:${first.line}: ${first.why}: not a ferry ledger`)
  }
  return out
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
