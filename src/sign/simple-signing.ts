import { z } from 'zod'
import { FerryError } from '../errors.js'
import { parseDigest } from '../oci/digest.js'
import { goJson, sortedByGoKey } from './go-json.js'
import { keyCollision } from './strict-json.js'

/**
 * cosign's "simple signing" payload (sigstore `pkg/signature/payload`, cosign SIGNATURE_SPEC.md § Payloads):
 * the document a classic `.sig` layer holds and its signature covers.
 */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature'

export interface SimpleSigningInput {
  /** Registry and repository without tag or digest (e.g. `index.docker.io/library/ubuntu`); cosign ignores it on verify. */
  dockerReference: string
  /** Digest of the signed manifest (the index digest for a multi-platform image). */
  digest: string
  /** `cosign sign -a k=v` values; verifiers may require them. */
  annotations?: Record<string, string>
}

/** The payload bytes exactly as cosign marshals them (struct order, `optional: null` without annotations). */
export function simpleSigningPayload(input: SimpleSigningInput): Uint8Array {
  const { digest } = parseDigest(input.digest)
  const annotations =
    input.annotations && Object.keys(input.annotations).length ? input.annotations : undefined
  return goJson({
    critical: {
      identity: { 'docker-reference': input.dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: annotations ? sortedByGoKey(annotations) : null,
  })
}

const simpleSigningSchema = z.looseObject({
  critical: z.looseObject({
    identity: z.looseObject({ 'docker-reference': z.string() }),
    image: z.looseObject({ 'docker-manifest-digest': z.string() }),
    type: z.literal(SIMPLE_SIGNING_TYPE),
  }),
  // Annotation values are strings when cosign writes them, but the payload type is map[string]interface{}.
  optional: z.record(z.string(), z.unknown()).nullish(),
})

export interface SimpleSigningClaims {
  dockerReference: string
  digest: string
  annotations: Record<string, unknown>
}

/** Parse a payload read from a registry. Throws VERIFY_FAILED when it is not a simple-signing document. */
export function parseSimpleSigningPayload(
  bytes: Uint8Array,
  source = 'signature payload',
): SimpleSigningClaims {
  let doc: unknown
  const text = Buffer.from(bytes).toString('utf8')
  try {
    doc = JSON.parse(text)
  } catch {
    throw new FerryError('VERIFY_FAILED', `${source}: not valid JSON`)
  }
  const collision = keyCollision(text)
  if (collision) {
    throw new FerryError('VERIFY_FAILED', `${source}: ${collision} (decoders would disagree on what it says)`)
  }
  const parsed = simpleSigningSchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw new FerryError(
      'VERIFY_FAILED',
      `${source}: not a cosign simple-signing payload${where}: ${issue?.message}`,
    )
  }
  const { critical, optional } = parsed.data
  return {
    dockerReference: critical.identity['docker-reference'],
    digest: critical.image['docker-manifest-digest'],
    annotations: optional ?? {},
  }
}
