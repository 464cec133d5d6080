import { z } from 'zod'
import { parseDigest } from '../oci/digest.js'
import { goJson, sortedByGoKey } from './go-json.js'
import { keyCollision } from './strict-json.js'

/** in-toto Statement v1 (in-toto/attestation spec/v1/statement.md) as cosign signs it inside a DSSE envelope. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'
export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1'
const STATEMENT_TYPE_V01 = 'https://in-toto.io/Statement/v0.1'

/** What `cosign sign` (v3 bundle format) attests: "this digest is signed", with an empty predicate. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1'

export interface StatementInput {
  digest: string
  predicateType?: string
  predicate?: Record<string, unknown>
  /** `-a k=v` values; cosign puts them on the subject. */
  annotations?: Record<string, string>
}

/** The statement bytes: one subject (digest only, no name, as cosign does), compact JSON. */
export function statementFor(input: StatementInput): Uint8Array {
  const { algorithm, hex } = parseDigest(input.digest)
  const annotations =
    input.annotations && Object.keys(input.annotations).length ? input.annotations : undefined
  return goJson({
    _type: STATEMENT_TYPE_V1,
    subject: [
      { digest: { [algorithm]: hex }, ...(annotations ? { annotations: sortedByGoKey(annotations) } : {}) },
    ],
    predicateType: input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE,
    predicate: input.predicate ?? {},
  })
}

const statementSchema = z.looseObject({
  _type: z.enum([STATEMENT_TYPE_V1, STATEMENT_TYPE_V01]),
  subject: z.array(z.looseObject({ digest: z.record(z.string(), z.string()) })).min(1),
  predicateType: z.string(),
})
export type Statement = z.infer<typeof statementSchema>

/** Parse statement bytes; undefined with a reason when they are not an in-toto statement. */
export function parseStatement(bytes: Uint8Array): { statement?: Statement; reason?: string } {
  let doc: unknown
  const text = Buffer.from(bytes).toString('utf8')
  try {
    doc = JSON.parse(text)
  } catch {
    return { reason: 'the signed payload is not JSON' }
  }
  const collision = keyCollision(text)
  if (collision)
    return { reason: `the signed payload has ${collision} (decoders would disagree on what it says)` }
  const parsed = statementSchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    return { reason: `the signed payload is not an in-toto statement${where}: ${issue?.message}` }
  }
  return { statement: parsed.data }
}

/** Does any subject carry `digest` (same algorithm, same hex; hex compared case-insensitively as in-toto allows)? */
export function statementNamesDigest(statement: Statement, digest: string): boolean {
  const { algorithm, hex } = parseDigest(digest)
  return statement.subject.some((s) => s.digest[algorithm]?.toLowerCase() === hex)
}

/** The subject digests, as `alg:hex` strings, for messages. */
export function subjectDigests(statement: Statement): string[] {
  return statement.subject.flatMap((s) => Object.entries(s.digest).map(([alg, hex]) => `${alg}:${hex}`))
}
