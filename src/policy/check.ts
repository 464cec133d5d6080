import type { ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import { type FoundLabel, labelsOf, type TraceLabels, traceLabels } from './labels.js'
import type { Environment, Policy } from './load.js'
import { formatName, type ImageName, type Judges, judgesFor, reportedEnvironment } from './match.js'
import {
  checkForbiddenTags,
  checkImmutable,
  checkImmutableRecorded,
  checkImmutableRemoval,
  checkLabels,
  checkNaming,
  checkSemverTag,
  checkSignatureAndSbom,
  RULE_IDS,
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
  /**
   * The environment whose rule it is; for the global naming and labels rules, the one whose mode
   * applied. Absent: a global rule outside every environment (enforced).
   */
  environment?: string
  evidence?: Record<string, unknown>
}

export interface ImageCheck {
  /** The name judged: the image itself for `policy check`, the destination for `promote`. */
  image: string
  digest: Digest
  /**
   * The name's environment (the first it matches), else the one `--environment` named; null: neither,
   * the global rules applied in enforce mode. Rows say where each rule came from.
   */
  environment: string | null
  mode: Mode
  checks: PolicyCheck[]
  /** source, revision and created as found (annotation or label): the traceability record. */
  labels: TraceLabels
}

export interface NameCheckOptions {
  policy: Policy
  digest: Digest
  name: ImageName
  /** Add this environment's rules to those of the environments `name` matches (never instead of them). */
  environment?: string
  /**
   * What `name.tag` names now where the image is going, for the immutability rule: a digest, or
   * null when the tag does not exist yet. Omitted: the name is the image's own, the tag names it.
   */
  existing?: Digest | null
  /** Leave the immutability rule out: the caller reads the destination tag after the other gates passed. */
  deferImmutable?: boolean
  /**
   * What a ledger last recorded `name.tag` as naming, and where (`FILE:LINE (time, actor)`): an immutable
   * tag that names another digest now has moved since, whoever moved it (a `skopeo copy` around ferry).
   */
  recorded?: RecordedTagDigest
}

/** A tag's digest as a record (the ledger) has it, and where that record is, for messages. */
export interface RecordedTagDigest {
  digest: string
  where: string
}

export interface CheckImageOptions extends NameCheckOptions {
  /** Where the content is read from (for promote: the source). */
  target: ReadOnlyTarget
}

/** A rule's outcome as a row: a failure in a warn-mode environment is a warning. */
const row = (o: RuleOutcome, env: Environment | undefined): PolicyCheck => ({
  ...o,
  result: o.result === 'fail' && env?.mode === 'warn' ? 'warn' : o.result,
  ...(env ? { environment: env.name } : {}),
})

const bySeverity = (envs: Environment[]) =>
  [...envs].sort((a, b) => Number(a.mode === 'warn') - Number(b.mode === 'warn'))

/**
 * Where the global naming and labels rules take their mode: the name's environment, unless the one
 * added is enforce where it is warn. Outside every environment they are enforced, whatever is added.
 */
const globalJudge = (j: Judges): Environment | undefined =>
  j.home === undefined ? undefined : bySeverity([j.home, ...(j.added ? [j.added] : [])])[0]

/**
 * The naming rule: each judging environment's own `naming`, in its mode, else the global one, judged
 * once in the strictest mode of those that use it; outside every environment the global one is
 * enforced, as the other global rules are. Rows in the order of the environments.
 */
function namingRows(policy: Policy, judges: Judges, name: ImageName): PolicyCheck[] {
  const global = (judge: Environment | undefined) =>
    policy.naming ? [row(checkNaming(policy.naming.repository, name), judge)] : []
  const own = [judges.home, judges.added].filter((e): e is Environment => e !== undefined)
  const usingGlobal = judges.home ? own.filter((e) => !e.naming) : []
  const rows = judges.home ? [] : global(undefined)
  for (const env of own) {
    if (env.naming) rows.push(row(checkNaming(env.naming.repository, name), env))
    else if (env === usingGlobal[0]) rows.push(...global(bySeverity(usingGlobal)[0]))
  }
  return rows
}

export interface NameCheck {
  /** As in ImageCheck. */
  environment: string | null
  checks: PolicyCheck[]
}

/**
 * The rules about the name alone, no content read: naming, tags.forbid, tags.semver and immutable.
 * What `tag` judges (the image is already in the repository) and the part of `checkImage` that says
 * whether an image may go under this name.
 */
export function checkName(opts: NameCheckOptions): NameCheck {
  const judges = judgesFor(opts.policy, opts.name, opts.environment)
  return { environment: reportedEnvironment(judges)?.name ?? null, checks: nameRows(judges, opts) }
}

function nameRows(judges: Judges, opts: NameCheckOptions): PolicyCheck[] {
  const { policy, name, digest } = opts
  const own = [judges.home, judges.added].filter((e): e is Environment => e !== undefined)
  const rows: PolicyCheck[] = []
  rows.push(...namingRows(policy, judges, name))
  for (const env of judges.protecting) {
    if (env.forbid?.tags) rows.push(row(checkForbiddenTags(env.forbid.tags, name.tag), env))
  }
  for (const env of own) if (env.tags?.semver) rows.push(row(checkSemverTag(name.tag), env))
  if (!opts.deferImmutable) {
    const existing = opts.existing === undefined ? digest : opts.existing
    const recorded = opts.recorded
    const immutable =
      recorded && existing !== null && recorded.digest !== existing
        ? movedCheck(judges, name.tag, existing, recorded)
        : immutableCheck(judges, name.tag, digest, existing)
    if (immutable) rows.push(immutable)
  }
  return rows
}

/** An immutable tag that names `now`, not what the record says it named: judged as immutableCheck judges. */
function movedCheck(
  judges: Judges,
  tag: string | undefined,
  now: Digest,
  recorded: RecordedTagDigest,
): PolicyCheck | undefined {
  const env = strictestImmutable(judges)
  return env && row(checkImmutableRecorded(tag, now, recorded), env)
}

/**
 * The immutability rule, judged once by the strictest environment among all that protect the name:
 * an immutable enforce-mode environment anywhere among them keeps the tag where it is. `existing`: what
 * the tag names now (null: it does not exist yet). Undefined: no environment here is immutable.
 */
export function immutableCheck(
  judges: Judges,
  tag: string | undefined,
  digest: Digest,
  existing: Digest | null,
): PolicyCheck | undefined {
  const env = strictestImmutable(judges)
  return env && row(checkImmutable(tag, digest, existing ?? undefined), env)
}

const strictestImmutable = (judges: Judges): Environment | undefined =>
  bySeverity(judges.protecting.filter((e) => e.immutable))[0]

/**
 * Deleting `tag`, which names `existing`, or `deleting`, a manifest that index lists: judged by the
 * environment immutableCheck would judge a move by. Undefined: no environment here is immutable.
 */
export function removalCheck(
  judges: Judges,
  tag: string,
  existing: Digest,
  deleting: Digest = existing,
): PolicyCheck | undefined {
  const env = strictestImmutable(judges)
  return env && row(checkImmutableRemoval(tag, existing, deleting), env)
}

/** The environments whose signature and SBOM rules judge an image: the name's own and the one added. */
export const evidenceEnvironments = (judges: Judges): Environment[] =>
  [judges.home, judges.added].filter((e): e is Environment => e !== undefined && e.keys.length > 0)

/**
 * The signature and SBOM rows of each environment for one digest, read from `target` (the offline
 * verify): what checkImage adds to the name rules, and what `serve --policy` gates pulls on.
 */
export async function checkEvidence(
  envs: readonly Environment[],
  target: ReadOnlyTarget,
  digest: Digest,
): Promise<PolicyCheck[]> {
  const rows: PolicyCheck[] = []
  for (const env of envs) {
    for (const o of await checkSignatureAndSbom(env, target, digest)) rows.push(row(o, env))
  }
  return rows
}

const labelRows = (policy: Policy, judges: Judges, found: Map<string, FoundLabel>): PolicyCheck[] =>
  policy.labels ? [row(checkLabels(policy.labels.require, found), globalJudge(judges))] : []

export interface PushedImageOptions extends NameCheckOptions {
  /** Where the manifest's config and, for an index, its platform images are read from. */
  target: ReadOnlyTarget
  /** The manifest arriving under `name`, not necessarily stored yet. */
  manifest: Manifest
}

/**
 * What a registry judges when an image arrives under a tag: the name rules (as checkName) and the
 * labels, read from the manifest and its config (or an index's platform images), which the client
 * pushed first. Signatures and SBOMs are pushed after the image: `serve --policy` judges them at pull.
 */
export async function checkPushedImage(opts: PushedImageOptions): Promise<NameCheck> {
  const judges = judgesFor(opts.policy, opts.name, opts.environment)
  const found = await labelsOf(opts.target, opts.manifest)
  return {
    environment: reportedEnvironment(judges)?.name ?? null,
    checks: sortRows([...nameRows(judges, opts), ...labelRows(opts.policy, judges, found)]),
  }
}

// Stable: within one rule, the environments stay in the order they were judged.
const sortRows = (rows: PolicyCheck[]): PolicyCheck[] =>
  rows.sort((a, b) => RULE_IDS.indexOf(a.rule) - RULE_IDS.indexOf(b.rule))

export interface ContentCheck {
  /** The labels and evidence rows (signature, sbom), in the order of the rule ids. */
  checks: PolicyCheck[]
  labels: TraceLabels
}

/**
 * The rules about what an image is, whatever its tag says: the required labels and, in environments
 * that ask for them, a signature and an SBOM verified offline with the policy's keys. What checkImage
 * adds to the name rules, and what `audit` asks of every tag a registry holds.
 */
export async function checkContent(
  opts: Omit<CheckImageOptions, 'existing' | 'deferImmutable' | 'recorded'> & { manifest: Manifest },
): Promise<ContentCheck> {
  const { policy, target, manifest } = opts
  const judges = judgesFor(policy, opts.name, opts.environment)
  const found = await labelsOf(target, manifest)
  const rows = [
    ...labelRows(policy, judges, found),
    ...(await checkEvidence(evidenceEnvironments(judges), target, manifest.digest)),
  ]
  return { checks: sortRows(rows), labels: traceLabels(found) }
}

/**
 * Every rule of the policy that applies to one image under a name, in the order of the rule ids: the
 * name's environment's, those `--environment` adds, and the protecting rules of every environment the
 * name matches. Outside every environment, the global rules are enforced.
 */
export async function checkImage(opts: CheckImageOptions): Promise<ImageCheck> {
  const { policy, target, digest, name } = opts
  const judges = judgesFor(policy, name, opts.environment)
  const shown = reportedEnvironment(judges)
  const manifest = await target.fetchManifest(digest)
  const content = await checkContent({ ...opts, manifest })
  const rows = [...nameRows(judges, { ...opts, digest: manifest.digest }), ...content.checks]
  return {
    image: formatName(name),
    digest: manifest.digest,
    environment: shown?.name ?? null,
    mode: shown?.mode ?? 'enforce',
    checks: sortRows(rows),
    labels: content.labels,
  }
}

/** The checks that block: enforce-mode failures. */
export const failuresOf = (check: { checks: readonly PolicyCheck[] }): PolicyCheck[] =>
  check.checks.filter((c) => c.result === 'fail')

/** `immutable (environment prod): "v1" is immutable and names …`: a row in one line, with where it is from. */
export const describeCheck = (c: PolicyCheck): string =>
  `${c.rule} (${c.environment ? `environment ${c.environment}` : 'no environment'}): ${c.message}`

/**
 * Why a write was refused, in one line: the first blocking rule with its environment and message (the
 * immutability message names both digests), and how many more failed.
 */
export function refusalReason(failures: readonly PolicyCheck[]): string {
  const [first, ...rest] = failures
  const more = rest.length ? ` (and ${rest.length} more: ${rest.map((f) => f.rule).join(', ')})` : ''
  return `${describeCheck(first!)}${more}`
}

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
