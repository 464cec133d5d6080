import { DSSEBundleBuilder, FulcioSigner, RekorWitness } from '@sigstore/sign'
import { FerryError } from '../errors.js'
import { type SignedBundle, serialiseBundle } from './bundle.js'
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  type StatementInput,
  statementFor,
} from './in-toto.js'

export interface KeylessSignInput extends StatementInput {
  /** e.g. https://fulcio.sigstore.dev or an internal Fulcio. */
  fulcioURL: string
  /** e.g. https://rekor.sigstore.dev or an internal Rekor. */
  rekorURL: string
  /** An OIDC ID token (JWT) with an e-mail (verified) or subject identity; never logged. */
  identityToken: string
  /** Per-request timeout in milliseconds; default 30 s. */
  timeoutMs?: number
  /** Retries per request (make-fetch-happen semantics); default 2. */
  retries?: number
}

/**
 * Keyless signing (online only): an ephemeral key, a short-lived Fulcio certificate for the token's
 * identity, and a Rekor `intoto` entry, packed into a v0.3 DSSE bundle. The `intoto` entry type is used
 * because verifiers check a `dsse` entry's signature count against the envelope, which current Rekor
 * deployments and stand-ins do not all echo back.
 */
export async function signBundleKeyless(input: KeylessSignInput): Promise<SignedBundle> {
  const timeout = input.timeoutMs ?? 30_000
  const retry = input.retries ?? 2
  const token = input.identityToken
  const signer = new FulcioSigner({
    identityProvider: { getToken: async () => token },
    fulcioBaseURL: input.fulcioURL,
    timeout,
    retry,
  })
  const witness = new RekorWitness({ rekorBaseURL: input.rekorURL, entryType: 'intoto', timeout, retry })
  const statement = statementFor(input)
  try {
    const bundle = await new DSSEBundleBuilder({ signer, witnesses: [witness] }).create({
      data: Buffer.from(statement),
      type: IN_TOTO_PAYLOAD_TYPE,
    })
    return serialiseBundle(bundle, statement, input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE)
  } catch (err) {
    throw keylessError(err, token, input)
  }
}

function keylessError(err: unknown, token: string, input: KeylessSignInput): FerryError {
  const e = (err && typeof err === 'object' ? err : {}) as { code?: unknown; cause?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  const cause = e.cause instanceof Error ? e.cause : undefined
  const status = (cause as { statusCode?: unknown } | undefined)?.statusCode
  // An HTTP failure is already in the message; a transport failure (refused, timeout) is only in the cause.
  const detail = cause && status === undefined ? `: ${cause.message}` : ''
  const raw = `${err instanceof Error ? err.message : String(err)}${detail}`
  // Services can echo the request; make sure the token never travels on in a message.
  const message = token ? raw.split(token).join('[redacted]') : raw
  if (code.startsWith('IDENTITY_TOKEN') || status === 401 || status === 403) {
    return new FerryError('CREDENTIALS', `keyless signing: the identity token was not accepted (${message})`)
  }
  const service = code.startsWith('TLOG') ? `Rekor ${input.rekorURL}` : `Fulcio ${input.fulcioURL}`
  return new FerryError('NETWORK', `keyless signing via ${service} failed: ${message}`)
}
