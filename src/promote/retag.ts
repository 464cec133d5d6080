import type { OperationOptions } from '../content/target.js'
import { FerryError } from '../errors.js'
import { recordTag } from '../ledger/index.js'
import type { Digest } from '../oci/digest.js'
import { environmentFor, type Policy } from '../policy/index.js'
import { checkImmutable } from '../policy/rules.js'
import { formatReference, parseReference, withTag } from '../reference/index.js'
import { type OpenOptions, openTarget } from '../targets/open.js'
import { resolveIfPresent } from '../targets/present.js'

export interface RetagOptions extends OpenOptions, OperationOptions {
  /** Refuse to move a tag of an immutable environment. */
  policy?: Policy
  environment?: string
  /** JSON Lines ledger every attempt is appended to (src/ledger), with this ferry version. */
  ledger?: string
  ferryVersion?: string
}

export interface RetagResult {
  image: string
  tag: string
  digest: Digest
  /** What the tag named before, when it existed. */
  previous?: Digest
  changed: boolean
  environment: string | null
}

/**
 * A second tag for a manifest already in the repository: the exact bytes are PUT under the new name
 * and no blob moves. The tag is written on condition that it still names what was read (or still does
 * not exist), so a concurrent writer is refused rather than overwritten.
 */
export async function retag(reference: string, tag: string, opts: RetagOptions = {}): Promise<RetagResult> {
  const ref = parseReference(reference)
  const { target, reference: selector } = await openTarget(ref, opts)
  try {
    const manifest = await target.fetchManifest(selector, opts)
    const previous = (await resolveIfPresent(target, tag, opts))?.digest as Digest | undefined
    const shown = formatReference(withTag(ref, tag))
    const name =
      ref.kind === 'registry'
        ? { host: ref.registry, repository: ref.repository, tag }
        : { repository: ref.repository ?? '', tag }
    const env = opts.policy && environmentFor(opts.policy, name, opts.environment)
    if (env?.immutable && env.mode === 'enforce') {
      const outcome = checkImmutable(tag, manifest.digest, previous)
      if (outcome.result === 'fail') {
        const reason = `${shown}: ${outcome.message} (environment ${env.name})`
        const attempt = { digest: manifest.digest, previous, environment: env.name, checks: [outcome] }
        await recordTag(opts, {
          source: reference,
          destination: shown,
          verdict: 'refused',
          reason,
          ...attempt,
        })
        throw new FerryError('POLICY_VIOLATION', reason)
      }
    }
    const base = { image: shown, tag, digest: manifest.digest, environment: env?.name ?? null }
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
  await recordTag(opts, { source, destination, digest, previous, environment, verdict })
  return result
}
