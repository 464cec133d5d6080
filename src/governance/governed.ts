import { resolveIfPresent } from '../content/present.js'
import type { ReadOnlyTarget, TagPrecondition } from '../content/target.js'
import type { CopyHooks } from '../copy/copy.js'
import { FerryError } from '../errors.js'
import { recordAttempt, type WriteAttempt } from '../ledger/attempt.js'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import {
  checkName,
  checkPushedImage,
  failuresOf,
  formatName,
  type ImageName,
  judgesFor,
  type NameCheck,
  type Policy,
  type PolicyCheck,
  refusalReason,
  removalCheck,
} from '../policy/index.js'
import { parseAttachmentTag } from '../reference/grammar.js'
import type { Reference } from '../reference/index.js'
import type { Governance } from './governance.js'

export { type Governance, governs } from './governance.js'

export interface Write {
  /** The ledger's `operation`: copy, sync, bundle-import, retention-restore. */
  operation: string
  /** What is written from, for the ledger. */
  source: string
  /** Where it goes, the tag included (absent: pushed by digest). */
  name: ImageName
  /** The manifest arriving, and where its config and platform images are read from (for the labels). */
  manifest: Manifest
  content: ReadOnlyTarget
  /** What the tag names now where it goes: read from `destination` unless the caller knows it. */
  existing?: Digest | null
  destination?: ReadOnlyTarget
  /** Judge the name rules only: the image is already in the registry (restore puts back what was there). */
  nameOnly?: boolean
}

export interface AdmittedWrite {
  /** What the tag named when judged (undefined: nothing). */
  existing?: Digest
  /** The condition to write the tag on: that it still names what was judged (with a policy). */
  precondition?: TagPrecondition
  check?: NameCheck
  /** Appends the write to the ledger, once it is done. */
  record(): Promise<void>
}

/** Where a reference points, as the policy's repository globs see it (no tag). */
export const imageNameOf = (ref: Reference): Omit<ImageName, 'tag'> =>
  ref.kind === 'registry'
    ? { host: ref.registry, repository: ref.repository }
    : { repository: ref.repository ?? '' }

const shownName = (name: ImageName, digest: Digest): string =>
  name.tag === undefined ? `${formatName(name)}@${digest}` : formatName(name)

/**
 * Judges one write before anything reaches the destination, by the rules `serve --policy` judges a
 * push by: naming, forbidden tags, SemVer, immutability against what the tag names now, and the
 * required labels (checkPushedImage). A push by digest, or of an attachment under its cosign tag, is
 * judged by naming only. An enforce-mode failure is recorded and thrown (POLICY_VIOLATION, exit 7):
 * one line naming the rule, the environment and, for a tag that would move, both digests.
 */
export async function admitWrite(g: Governance, w: Write): Promise<AdmittedWrite> {
  const { digest, existing, check, attempt, blocking, shown } = await assess(g, w)
  if (blocking.length) {
    const reason = `${shown}: ${refusalReason(blocking)}`
    await recordAttempt(g, { ...attempt, verdict: 'refused', reason })
    throw new FerryError('POLICY_VIOLATION', reason)
  }
  const tag = w.name.tag
  const precondition: TagPrecondition | undefined =
    g.policy && tag !== undefined ? (existing ? { ifMatch: existing } : { ifAbsent: true }) : undefined
  return {
    ...(existing ? { existing } : {}),
    ...(precondition ? { precondition } : {}),
    ...(check ? { check } : {}),
    record: () => recordAttempt(g, { ...attempt, verdict: existing === digest ? 'unchanged' : 'written' }),
  }
}

/**
 * What admitWrite would decide, for a dry run: the same judgement, thrown the same way (POLICY_VIOLATION),
 * and nothing recorded, since nothing was attempted.
 */
export async function judgeWrite(g: Governance, w: Write): Promise<NameCheck | undefined> {
  const { check, blocking, shown } = await assess(g, w)
  if (blocking.length)
    throw new FerryError('POLICY_VIOLATION', `${shown}: ${refusalReason(blocking)} (dry run)`)
  return check
}

async function assess(g: Governance, w: Write) {
  const digest = w.manifest.digest
  const tag = w.name.tag
  const existing =
    w.existing !== undefined
      ? (w.existing ?? undefined)
      : tag === undefined || !w.destination
        ? undefined
        : ((await resolveIfPresent(w.destination, tag))?.digest as Digest | undefined)
  const shown = shownName(w.name, digest)
  const check = g.policy && (await judge(g.policy, g.environment, w, existing))
  const attempt = {
    operation: w.operation,
    source: w.source,
    destination: shown,
    digest,
    ...(existing ? { previous: existing } : {}),
    environment: check?.environment ?? null,
    checks: check?.checks ?? [],
  }
  return { digest, existing, check, attempt, blocking: check ? failuresOf(check) : [], shown }
}

async function judge(
  policy: Policy,
  environment: string | undefined,
  w: Write,
  existing: Digest | undefined,
): Promise<NameCheck> {
  const base = { policy, environment, digest: w.manifest.digest, existing: existing ?? null }
  const { tag, ...untagged } = w.name
  if (tag === undefined || parseAttachmentTag(tag)) return checkName({ ...base, name: untagged })
  if (w.nameOnly) return checkName({ ...base, name: w.name })
  return checkPushedImage({ ...base, name: w.name, target: w.content, manifest: w.manifest })
}

/**
 * The hooks that govern one copy (copy/copy.ts): the write is judged once the source is read and before
 * any blob is sent, the tag is written on condition that it still names what was judged, and the copy
 * is recorded once the tag is in place.
 */
export function governedCopy(
  g: Governance,
  w: Pick<Write, 'operation' | 'source' | 'existing'> & { name: Omit<ImageName, 'tag'> },
): CopyHooks {
  let admitted: AdmittedWrite | undefined
  return {
    async beforeWrite(plan) {
      const name = { ...w.name, ...(plan.destinationTag ? { tag: plan.destinationTag } : {}) }
      admitted = await admitWrite(g, {
        ...w,
        name,
        manifest: plan.root,
        content: plan.source,
        destination: plan.destination,
      })
      return admitted.precondition
    },
    afterCommit: () => admitted?.record(),
  }
}

export interface Removal {
  /** delete, retention-apply. */
  operation: string
  source: string
  /** The repository (no tag). */
  name: Omit<ImageName, 'tag'>
  /** What goes: a tag and what it names, or a manifest (and the tags that name or hold it). */
  tag?: string
  digest: Digest
  /** Tags that name `digest` now, or an index listing it, that the removal takes with it. */
  holders: { tag: string; digest: Digest }[]
}

/**
 * Judges a removal before anything is removed: a tag of an immutable environment, or a manifest one
 * names (itself, or as a child of the index it names), stays, as `serve --policy` keeps it on a DELETE.
 * Cosign attachment tags may go (revoking a signature is a delete). Refusals are recorded and thrown.
 */
export async function admitRemoval(g: Governance, r: Removal): Promise<{ record(): Promise<void> }> {
  const rows: PolicyCheck[] = []
  let environment: string | null = null
  if (g.policy) {
    for (const h of r.holders) {
      if (parseAttachmentTag(h.tag)) continue
      const judges = judgesFor(g.policy, { ...r.name, tag: h.tag }, g.environment)
      environment ??= (judges.home ?? judges.added)?.name ?? null
      const row = removalCheck(judges, h.tag, h.digest, r.digest)
      if (row) rows.push(row)
    }
  }
  const shown = `${formatName(r.name)}${r.tag ? `:${r.tag}` : `@${r.digest}`}`
  const attempt = {
    operation: r.operation,
    source: r.source,
    destination: shown,
    digest: r.digest,
    environment,
    checks: rows,
  } satisfies Omit<WriteAttempt, 'verdict'>
  const blocking = failuresOf({ checks: rows })
  if (blocking.length) {
    const reason = `${shown}: ${refusalReason(blocking)}`
    await recordAttempt(g, { ...attempt, verdict: 'refused', reason })
    throw new FerryError('POLICY_VIOLATION', reason)
  }
  return { record: () => recordAttempt(g, { ...attempt, verdict: 'deleted' }) }
}
