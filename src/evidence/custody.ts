import { z } from 'zod'
import { FerryError } from '../errors.js'
import { GENESIS, lineHash, splitLines } from '../ledger/chain.js'

/**
 * The chain of custody: who did what with the pack, when, where and with what. One JSON object per
 * event, hash-chained as the ledger is (ledger/chain.ts): `seq` is the event's position (1-based) and
 * `prev` the sha256 of the exact bytes of the event before it (without its newline; the first event's is
 * the sha256 of nothing). An event edited, removed, inserted or moved breaks the link of the event after
 * it, or its own `seq`. The first event, `captured`, is in custody.jsonl; later ones are entries of
 * their own (format.ts), so appending never changes bytes SHA256SUMS or a signature covers.
 */

export const CUSTODY_ACTIONS = ['received', 'transferred', 'analysed'] as const
export type CustodyAction = (typeof CUSTODY_ACTIONS)[number] | 'captured'

const hashSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/)

export const custodyEventSchema = z.looseObject({
  /** RFC 3339 UTC, whole seconds. */
  time: z.string(),
  action: z.enum(['captured', ...CUSTODY_ACTIONS]),
  custodian: z.string().min(1),
  case: z.string().min(1),
  /** The machine the event was recorded on (its host name). */
  host: z.string(),
  /** `ferry VERSION`. */
  tool: z.string(),
  note: z.string().optional(),
  /** Appended events signed with a key: its fingerprint (`sha256:` of the SPKI DER, `ferry key fingerprint`). */
  key: z.string().optional(),
  seq: z.number().int().positive(),
  prev: hashSchema,
})
/** An event's own fields (readers keep unknown ones: a newer ferry may add some). */
export interface EventFields {
  time: string
  action: CustodyAction
  custodian: string
  case: string
  host: string
  tool: string
  note?: string
  key?: string
}

export interface CustodyEvent extends EventFields {
  seq: number
  prev: string
}

/** An event's line: its fields in a fixed order, then the chain (so equal events give equal bytes). */
export function eventLine(fields: EventFields, seq: number, prev: string): Buffer {
  const { time, action, custodian, case: caseId, host, tool, note, key } = fields
  const ordered = {
    time,
    action,
    custodian,
    case: caseId,
    host,
    tool,
    ...(note === undefined ? {} : { note }),
    ...(key === undefined ? {} : { key }),
    seq,
    prev,
  }
  return Buffer.from(JSON.stringify(ordered), 'utf8')
}

/** One event as read back, with where it came from (for messages) and the hash the next links to. */
export interface ChainedEvent {
  event: CustodyEvent
  /** `custody.jsonl:1`, `custody/0002.json`. */
  where: string
  hash: string
  /** The entry holding its signature, when signed. */
  signature?: Buffer
}

const bad = (archive: string, message: string) => new FerryError('VERIFY_FAILED', `${archive}: ${message}`)

function parseEvent(bytes: Buffer, where: string, archive: string): CustodyEvent {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw bad(archive, `${where} is not JSON: changed, or damaged`)
  }
  const parsed = custodyEventSchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw bad(archive, `${where} is no custody event (${issue.path.join('.') || 'event'}: ${issue.message})`)
  }
  return parsed.data as CustodyEvent
}

/** The lines of custody.jsonl (each ending with a newline; blank lines are no part of the chain). */
export function custodyLogLines(bytes: Buffer, archive: string): { bytes: Buffer; where: string }[] {
  const { lines, tail } = splitLines(bytes)
  if (tail) throw bad(archive, `custody.jsonl line ${tail.number} has no newline: cut short`)
  return lines.map((l) => ({ bytes: l.bytes, where: `custody.jsonl line ${l.number}` }))
}

/** One event file's line: the JSON and its newline, nothing else. */
export function eventFileLine(bytes: Buffer, where: string, archive: string): Buffer {
  const { lines, tail } = splitLines(bytes)
  if (tail || lines.length !== 1 || lines[0]!.number !== 1)
    throw bad(archive, `${where} must hold one event on one line, ending with a newline`)
  return lines[0]!.bytes
}

/**
 * Checks the chain, oldest first: each `seq` its position, each `prev` the hash of the event before, the
 * first event `captured` and every event of the same case. The first event out of place is named.
 */
export function checkChain(
  events: readonly { bytes: Buffer; where: string; signature?: Buffer }[],
  archive: string,
): ChainedEvent[] {
  const parsed = events.map((e) => parseEvent(e.bytes, e.where, archive))
  const out: ChainedEvent[] = []
  let expected = GENESIS
  for (const [i, e] of events.entries()) {
    const event = parsed[i]!
    if (event.seq !== i + 1) {
      const moved = parsed.findIndex((p, k) => k > i && p.seq === i + 1)
      const why =
        moved >= 0
          ? `custody events were reordered (${events[moved]!.where}, event ${i + 1}, comes after it)`
          : event.seq > i + 1
            ? `custody event ${i + 1} was removed`
            : 'custody events were reordered, or one was inserted'
      throw bad(archive, `${e.where} is custody event ${event.seq}, in place ${i + 1}: ${why}`)
    }
    if (event.prev !== expected) {
      const before = out[i - 1]?.where ?? 'the start of the chain'
      throw bad(
        archive,
        `${e.where} does not link to ${before}: an event before it was changed, removed or reordered`,
      )
    }
    if (i === 0 && event.action !== 'captured')
      throw bad(archive, `${e.where}: the first custody event is "${event.action}", not "captured"`)
    if (i > 0 && event.action === 'captured')
      throw bad(archive, `${e.where}: only the first custody event is "captured"`)
    if (i > 0 && event.case !== out[0]!.event.case)
      throw bad(archive, `${e.where} is about case "${event.case}", the pack about "${out[0]!.event.case}"`)
    const hash = lineHash(e.bytes)
    out.push({ event, where: e.where, hash, ...(e.signature ? { signature: e.signature } : {}) })
    expected = hash
  }
  return out
}

/** The text an appended event's signature is over: the entry's exact bytes (its line and newline). */
export const eventFileBytes = (line: Buffer): Buffer => Buffer.concat([line, Buffer.from('\n')])

export { GENESIS }
