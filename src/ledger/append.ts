import { type FileHandle, open } from 'node:fs/promises'
import type { Logger } from '../log.js'
import { parseReference } from '../reference/index.js'
import { withLock } from '../util/lock.js'
import { ledgerActor } from './actor.js'
import { GENESIS, type Line, lineHash, splitLines } from './chain.js'
import { type LedgerRecord, parseLine } from './record.js'

/**
 * Appending to a ledger. Each append holds the lock file beside the ledger (util/lock.ts), reads the
 * end of the file for the chain's head, writes its lines with one write(2) on an O_APPEND handle and
 * fsyncs before the lock is let go: two processes never interleave lines or break the chain.
 *
 * A last line without its newline is a write a crash cut short. It is not chained onto: the append
 * ends it with a newline and first writes a `repair` record naming its position, length and hash, so
 * the damage is on record and every other line still reads.
 */

/** A change as promote and tag hand it over; the ledger adds actor, repository, tag, seq and prev. */
export type ChangeEntry = Omit<LedgerRecord, 'actor' | 'seq' | 'prev' | 'repository' | 'tag'> & {
  operation: string
}

export interface AppendOptions {
  /** Default: ledgerActor() ($FERRY_ACTOR, the CI identity, else user@host). */
  actor?: string
  now?: () => Date
  logger?: Logger
}

/** Where the chain stands: lines so far (a torn one included) and the hash to link to. */
interface Head {
  lines: number
  prev: string
  torn?: Line
}

export const rfc3339 = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z')

export async function appendLedger(
  path: string,
  entry: ChangeEntry,
  opts: AppendOptions = {},
): Promise<void> {
  const { time, operation, ...rest } = entry
  const actor = opts.actor ?? ledgerActor()
  await appendRecords(path, () => [{ time, operation, actor, ...nameOf(entry.destination), ...rest }], {
    ...opts,
    actor,
  })
}

/**
 * Appends the records `build` makes from the chain's head (seq and prev are added here), after a
 * repair record when the file ends in a torn line.
 */
export async function appendRecords(
  path: string,
  // May be async (a checkpoint signed in a token): it runs under the lock, after the head is read.
  build: (at: {
    lines: number
    prev: string
    time: string
    actor: string
  }) => Record<string, unknown>[] | Promise<Record<string, unknown>[]>,
  opts: AppendOptions = {},
): Promise<void> {
  const time = rfc3339(opts.now?.() ?? new Date())
  const actor = opts.actor ?? ledgerActor()
  await withLock(`${path}.lock`, { logger: opts.logger }, async () => {
    const handle = await open(path, 'a+', 0o644)
    try {
      const head = await readHead(handle)
      let { lines, prev } = head
      const out: string[] = []
      const push = (record: Record<string, unknown>) => {
        lines++
        const line = JSON.stringify({ ...record, seq: lines, prev })
        out.push(line)
        prev = lineHash(Buffer.from(line))
      }
      if (head.torn) {
        const torn = { seq: lines, bytes: head.torn.bytes.length, sha256: lineHash(head.torn.bytes) }
        push({ time, operation: 'repair', actor, torn })
      }
      for (const record of await build({ lines, prev, time, actor })) push(record)
      await handle.write(`${head.torn ? '\n' : ''}${out.join('\n')}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
  })
}

/** `HOST/REPO` and the tag of a destination, for readers that want them apart. */
function nameOf(destination: string): { repository?: string; tag?: string } {
  try {
    const ref = parseReference(destination)
    const repository =
      ref.kind === 'registry'
        ? `${ref.registry}/${ref.repository}`
        : `oci:${ref.path}${ref.repository ? `:${ref.repository}` : ''}`
    return ref.tag === undefined ? { repository } : { repository, tag: ref.tag }
  } catch {
    return {}
  }
}

async function readRange(handle: FileHandle, start: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  let got = 0
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, start + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return buf.subarray(0, got)
}

/**
 * The end of the file: its last whole line (read backwards in growing pieces, so a long ledger costs
 * one small read) and a torn tail. The line count comes from the last line's `seq`; a ledger written
 * before the chain has none, and is counted once, whole.
 */
async function readHead(handle: FileHandle): Promise<Head> {
  const { size } = await handle.stat()
  if (size === 0) return { lines: 0, prev: GENESIS }
  for (let piece = 64 * 1024; ; piece *= 4) {
    const start = Math.max(0, size - piece)
    const buf = await readRange(handle, start, size - start)
    const firstNewline = buf.indexOf(0x0a)
    if (start > 0 && firstNewline < 0) continue
    // Past the first newline the piece holds whole lines only (unless it is the whole file).
    const { lines, tail } = splitLines(start === 0 ? buf : buf.subarray(firstNewline + 1))
    const last = lines.at(-1)
    if (!last && start > 0) continue
    const parsed = last && parseLine(last.bytes)
    const seq = parsed && parsed.kind !== 'bad' ? parsed.record.seq : undefined
    const count =
      !last || seq !== undefined ? (seq ?? 0) : splitLines(await readRange(handle, 0, size)).lines.length
    return {
      lines: count + (tail ? 1 : 0),
      prev: last ? lineHash(last.bytes) : GENESIS,
      ...(tail ? { torn: tail } : {}),
    }
  }
}
