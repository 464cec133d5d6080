import { resolveIfPresent } from '../content/present.js'
import type { Context } from '../context.js'
import { FerryError } from '../errors.js'
import { imageNameOf } from '../governance/governed.js'
import { recordAttempt } from '../ledger/index.js'
import type { Digest } from '../oci/digest.js'
import {
  checkName,
  failuresOf,
  type ImageName,
  type Policy,
  type PolicyCheck,
  refusalReason,
} from '../policy/index.js'
import { formatReference, parseReference, withTag } from '../reference/index.js'
import { openTarget } from '../targets/open.js'

export interface RetagOptions {
  /** The name rules of the environments NEWTAG falls in: naming, forbidden tags, SemVer, immutability. */
  policy?: Policy
  /** Add this environment's rules to those of the environments the new name matches (never instead). */
  environment?: string
  /** JSON Lines ledger every attempt is appended to (src/ledger), with this ferry version. */
  ledger?: string
  ferryVersion?: string
}

export interface RetagResult {
  /** The new name, `NAME:NEWTAG`. */
  image: string
  tag: string
  digest: Digest
  /** What the tag named before, when it existed. */
  previous?: Digest
  changed: boolean
  environment: string | null
  /** The policy's rows, with a policy: warnings (warn-mode failures) among them. */
  checks?: PolicyCheck[]
}

/**
 * A second tag for a manifest already in the repository: the exact bytes are PUT under the new name
 * and no blob moves. With a policy, the rules about the name are judged first and an enforce-mode
 * failure refuses the tag with nothing written (POLICY_VIOLATION). The content rules (labels,
 * signatures) are promote's: the image is in this repository already. The tag is written on condition
 * that it still names what was read (or still does not exist), so a concurrent writer is refused rather
 * than overwritten.
 */
export async function retag(
  ctx: Context,
  reference: string,
  tag: string,
  options: RetagOptions = {},
): Promise<RetagResult> {
  const opts = { ...options, signal: ctx.signal }
  const ref = parseReference(reference)
  const { target, reference: selector } = await openTarget(ctx, ref)
  try {
    const manifest = await target.fetchManifest(selector, opts)
    const previous = (await resolveIfPresent(target, tag, opts))?.digest as Digest | undefined
    const named = withTag(ref, tag)
    const shown = formatReference(named.kind === 'registry' ? { ...named, digest: undefined } : named)
    const name: ImageName = { ...imageNameOf(ref), tag }
    const judged =
      opts.policy &&
      checkName({
        policy: opts.policy,
        name,
        digest: manifest.digest,
        environment: opts.environment,
        existing: previous ?? null,
      })
    const blocking = judged ? failuresOf(judged) : []
    if (blocking.length) {
      const reason = `${shown}: ${refusalReason(blocking)}`
      await recordAttempt(opts, {
        operation: 'tag',
        source: reference,
        destination: shown,
        verdict: 'refused',
        reason,
        digest: manifest.digest,
        previous,
        environment: judged ? judged.environment : null,
        checks: judged ? judged.checks : [],
      })
      throw new FerryError('POLICY_VIOLATION', reason)
    }
    const base = {
      image: shown,
      tag,
      digest: manifest.digest,
      environment: judged ? judged.environment : null,
      ...(judged ? { checks: judged.checks } : {}),
    }
    if (previous === manifest.digest) return recorded(reference, { ...base, previous, changed: false }, opts)
    const precondition = previous ? { ifMatch: previous } : { ifAbsent: true as const }
    const { changed } = await target.tag(manifest, tag, { signal: opts.signal, precondition })
    return recorded(reference, { ...base, ...(previous ? { previous } : {}), changed }, opts)
  } finally {
    await target.close()
  }
}

async function recorded(source: string, result: RetagResult, opts: RetagOptions): Promise<RetagResult> {
  const { image: destination, digest, previous, environment, changed } = result
  const verdict = changed ? 'tagged' : 'unchanged'
  await recordAttempt(opts, {
    operation: 'tag',
    source,
    destination,
    digest,
    previous,
    environment,
    verdict,
  })
  return result
}
