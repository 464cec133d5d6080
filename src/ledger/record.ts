import { z } from 'zod'

/**
 * What a ledger line holds. Change records (promote, tag) keep the fields ferry wrote before the chain
 * (`time`, `verdict`, `source`, `destination`, `digest`, `previous`, `checks`, …: `retention --ledger`
 * and scripts read them) and add `operation`, `actor`, `repository`, `tag`, `seq` and `prev`. Control
 * records keep the ledger itself honest: `checkpoint` (a signed head) and `repair` (a torn line found).
 * Readers keep fields they do not know (a newer ferry may add some).
 */

const hashSchema = z.string().regex(/^sha256:[a-f0-9]{64}$/)

const chainFields = {
  /** RFC 3339, UTC. */
  time: z.string(),
  /** Absent in lines written before the chain, which were all promotions. */
  operation: z.string().optional(),
  actor: z.string().optional(),
  seq: z.number().int().positive().optional(),
  prev: hashSchema.optional(),
}

export const changeRecordSchema = z.looseObject({
  ...chainFields,
  verdict: z.enum(['promoted', 'refused', 'unchanged', 'tagged', 'written', 'deleted']),
  source: z.string(),
  /** With its tag. */
  destination: z.string(),
  repository: z.string().optional(),
  tag: z.string().optional(),
  /** What the tag names after a change (or would have named). */
  digest: z.string(),
  environment: z.string().nullable(),
  /** The rules that judged the change. */
  checks: z.array(z.looseObject({ rule: z.string(), result: z.string(), message: z.string() })),
  labels: z.looseObject({
    source: z.string().optional(),
    revision: z.string().optional(),
    created: z.string().optional(),
  }),
  forced: z.boolean(),
  ferryVersion: z.string(),
  /** What the tag named before, when it named another digest. */
  previous: z.string().optional(),
  /** Why a refused attempt was refused, one line. */
  reason: z.string().optional(),
})

export const checkpointSchema = z.looseObject({
  ...chainFields,
  operation: z.literal('checkpoint'),
  /** The hash of the line before (the chain's head when it was signed) and how many lines that is. */
  head: hashSchema,
  covers: z.number().int().nonnegative(),
  /** cosign's key id: base64 sha256 of the public key's SPKI DER. */
  key: z.string(),
  /** ECDSA (P-256) over SHA-256 of `checkpointPayload(head, covers)`, DER, standard base64. */
  signature: z.string(),
})

export const repairSchema = z.looseObject({
  ...chainFields,
  operation: z.literal('repair'),
  /** The line before, cut short by a crash: its position, length and hash (it is not chained onto). */
  torn: z.looseObject({ seq: z.number().int().positive(), bytes: z.number().int(), sha256: hashSchema }),
})

/** One promote attempt, as `promote` returns and records it. */
export interface PromoteRecord {
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

/** A change record as read back: a promotion or a tag, with the chain fields where written. */
export type LedgerRecord = Omit<PromoteRecord, 'verdict'> & {
  /** written: copy, sync, import, restore or a push put it there; deleted: a tag or manifest removed. */
  verdict: PromoteRecord['verdict'] | 'tagged' | 'written' | 'deleted'
  operation?: string
  actor?: string
  repository?: string
  tag?: string
  seq?: number
  prev?: string
}

export type CheckpointRecord = z.infer<typeof checkpointSchema>
export type RepairRecord = z.infer<typeof repairSchema>

export type ParsedLine =
  | { kind: 'change'; record: LedgerRecord }
  | { kind: 'checkpoint'; record: CheckpointRecord }
  | { kind: 'repair'; record: RepairRecord }
  | { kind: 'bad'; why: string }

/** One line's bytes as a record, or why it is none. */
export function parseLine(bytes: Uint8Array): ParsedLine {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    return { kind: 'bad', why: 'not JSON' }
  }
  const operation = (doc as { operation?: unknown } | null)?.operation
  const parsed =
    operation === 'checkpoint'
      ? { kind: 'checkpoint' as const, result: checkpointSchema.safeParse(doc) }
      : operation === 'repair'
        ? { kind: 'repair' as const, result: repairSchema.safeParse(doc) }
        : { kind: 'change' as const, result: changeRecordSchema.safeParse(doc) }
  if (!parsed.result.success) {
    const issue = parsed.result.error.issues[0]!
    return { kind: 'bad', why: `${issue.path.join('.') || 'record'}: ${issue.message}` }
  }
  return { kind: parsed.kind, record: parsed.result.data } as ParsedLine
}

/** What a checkpoint's signature is over: text any tool can rebuild from the record. */
export const checkpointPayload = (head: string, covers: number): Buffer =>
  Buffer.from(`ferry-ledger-checkpoint v1 ${head} ${covers}`, 'utf8')
