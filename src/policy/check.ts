import type { Target } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import { labelsOf, type TraceLabels, traceLabels } from './labels.js'
import type { Policy } from './load.js'
import { environmentFor, formatName, type ImageName } from './match.js'
import {
  checkForbiddenTags,
  checkImmutable,
  checkLabels,
  checkNaming,
  checkSemverTag,
  checkSignatureAndSbom,
  type RuleId,
  type RuleOutcome,
} from './rules.js'
import type { Mode } from './schema.js'

/** `warn` is a failure in an environment whose mode is warn: printed, never blocking. */
export type CheckVerdict = 'pass' | 'fail' | 'warn' | 'skip'

export interface PolicyCheck {
  rule: RuleId
  result: CheckVerdict
  message: string
  evidence?: Record<string, unknown>
}

export interface ImageCheck {
  /** The name judged: the image itself for `policy check`, the destination for `promote`. */
  image: string
  digest: Digest
  /** null: no environment matched, the global rules applied in enforce mode. */
  environment: string | null
  mode: Mode
  checks: PolicyCheck[]
  /** source, revision and created as found (annotation or label): the traceability record. */
  labels: TraceLabels
}

export interface CheckImageOptions {
  policy: Policy
  /** Where the content is read from (for promote: the source). */
  target: Target
  digest: Digest
  name: ImageName
  /** Check against this environment instead of the first one `name` matches. */
  environment?: string
  /**
   * What `name.tag` names now where the image is going, for the immutability rule: a digest, or
   * null when the tag does not exist yet. Omitted: the name is the image's own, the tag names it.
   */
  existing?: Digest | null
  /** Leave the immutability rule out: the caller reads the destination tag after the other gates passed. */
  deferImmutable?: boolean
}

/**
 * Every rule of the policy that applies to one image, in the order of the rule ids. The environment's
 * mode applies to all of them, the global naming and labels rules included; outside every
 * environment, the global rules are enforced.
 */
export async function checkImage(opts: CheckImageOptions): Promise<ImageCheck> {
  const { policy, target, digest, name } = opts
  const env = environmentFor(policy, name, opts.environment)
  const mode: Mode = env?.mode ?? 'enforce'
  const manifest = await target.fetchManifest(digest)
  const found = await labelsOf(target, manifest)
  const outcomes: RuleOutcome[] = []
  if (policy.naming) outcomes.push(checkNaming(policy.naming.repository, name))
  if (policy.labels) outcomes.push(checkLabels(policy.labels.require, found))
  if (env?.keys.length) outcomes.push(...(await checkSignatureAndSbom(env, target, manifest.digest)))
  if (env?.forbid?.tags) outcomes.push(checkForbiddenTags(env.forbid.tags, name.tag))
  if (env?.tags?.semver) outcomes.push(checkSemverTag(name.tag))
  if (env?.immutable && !opts.deferImmutable) {
    const existing = opts.existing === undefined ? manifest.digest : (opts.existing ?? undefined)
    outcomes.push(checkImmutable(name.tag, manifest.digest, existing))
  }
  return {
    image: formatName(name),
    digest: manifest.digest,
    environment: env?.name ?? null,
    mode,
    checks: outcomes.map((o) => ({
      ...o,
      result: o.result === 'fail' && mode === 'warn' ? 'warn' : o.result,
    })),
    labels: traceLabels(found),
  }
}

/** The checks that block: enforce-mode failures. */
export const failuresOf = (check: ImageCheck): PolicyCheck[] =>
  check.checks.filter((c) => c.result === 'fail')

export interface CheckSummary {
  images: number
  passed: number
  failed: number
  warnings: number
  skipped: number
}

/** Counts of check rows over all images (one row per image and rule). */
export function summarize(results: readonly ImageCheck[]): CheckSummary {
  const rows = results.flatMap((r) => r.checks)
  const count = (v: CheckVerdict) => rows.filter((c) => c.result === v).length
  return {
    images: results.length,
    passed: count('pass'),
    failed: count('fail'),
    warnings: count('warn'),
    skipped: count('skip'),
  }
}
