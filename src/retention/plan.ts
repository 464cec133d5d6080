import type { OperationOptions, ReadOnlyTarget } from '../content/target.js'
import { isUntagPlaceholder } from '../content/untag-placeholder.js'
import { type AttachedNode, closure, GraphReader } from '../graph/index.js'
import type { Digest } from '../oci/digest.js'
import { artifactTypeOf, type Manifest } from '../oci/manifest.js'
import { checkForbiddenTags, environmentFor, judgesFor, type Policy } from '../policy/index.js'
import { parseAttachmentTag } from '../reference/grammar.js'
import { type Age, type AgeSource, ageOf, type LedgerAges } from './age.js'
import { judgeTags, type KeepReason, type TagFacts, type TagVerdict } from './keep.js'
import { planOrder } from './order.js'

export interface PlanOptions extends OperationOptions {
  /** The walk's reader, so that a caller (apply's backup) reads each manifest once. */
  reader?: GraphReader
  policy: Policy
  /** Promotion times, the last age source. */
  ledger?: LedgerAges
  /** The clock the keep rules are judged against; default now. */
  now?: number
}

export interface PlannedAge {
  /** RFC 3339; absent when no source gave one. */
  time?: string
  source: AgeSource
}

export interface KeptTag {
  tag: string
  digest: Digest
  reason: KeepReason
  environment?: string
  version?: string
  age?: PlannedAge
}

/** `untag`: the digest stays (something kept shares it); `delete-manifest`: the digest goes, with every tag on it. */
export type TagAction = 'untag' | 'delete-manifest'

export interface DeletedTag {
  tag: string
  digest: Digest
  action: TagAction
  environment: string
  version?: string
  age?: PlannedAge
}

/** A manifest deleted by digest: a tagged image or index, a child of a deleted index, or an attachment. */
export interface DeletedManifest {
  digest: Digest
  mediaType: string
  role: 'image' | 'child' | 'referrer' | 'cosign-tag'
  /** For an attachment: what it is attached to, and how. */
  subject?: Digest
  artifactType?: string
  /** The cosign tag it lives under. */
  tag?: string
}

/** A `sha256-HEX` tag-schema index whose subject is deleted: removed once its referrers are gone. */
export interface FallbackIndex {
  tag: string
  digest: Digest
  subject: Digest
  /** `untag` when another, kept subject's index has the same bytes (an empty list), else by digest. */
  action: TagAction
}

/** A tag left on ferry's untag placeholder by an interrupted untag: no image, and removed by the plan. */
export interface PlaceholderTag {
  tag: string
  digest: Digest
}

/** A tag the policy forbids where it is (`tags.forbid`, e.g. `latest` in prod): flagged, never judged here. */
export interface ForbiddenTag {
  tag: string
  digest: Digest
  /** The environment whose `forbid.tags` it matches, and the pattern. */
  environment: string
  pattern: string
}

export interface RepositoryPlan {
  repository: string
  keep: KeptTag[]
  delete: DeletedTag[]
  /** Tags an interrupted untag left on ferry's placeholder: never judged as images, always removed. */
  placeholders: PlaceholderTag[]
  /** Every manifest deleted by digest, in the order apply deletes them (each group's root first). */
  manifests: DeletedManifest[]
  /** The attachments among `manifests` (signatures, SBOMs, attestations) that go with a deleted digest. */
  referrers: DeletedManifest[]
  fallbackIndexes: FallbackIndex[]
  /** Attachment tags whose subject no tag in the repository names: reported, never touched. */
  orphanAttachmentTags: string[]
  /** Tags the policy forbids in their environments, whatever retention does with them: for a person to act on. */
  forbidden: ForbiddenTag[]
  /** `untagged: delete` cannot list untagged manifests over the distribution API: said, not guessed. */
  untagged: { policy: 'keep' | 'delete'; note?: string }
  /** What the steps need from the registry. */
  needs: { manifestDelete: boolean; tagDelete: boolean }
  /** Tag → digest of everything the plan read, kept tags and placeholders included: apply checks nothing moved. */
  tags: Record<string, Digest>
  summary: RepositorySummary
}

export interface RepositorySummary {
  tags: number
  kept: number
  untag: number
  deleteManifests: number
  referrers: number
  fallbackIndexes: number
  placeholders: number
}

const isoAge = (age: Age | undefined): PlannedAge | undefined =>
  age && { source: age.source, ...(age.time !== undefined ? { time: new Date(age.time).toISOString() } : {}) }

/** The repository path a policy glob sees: `HOST/PATH` split into host and path. */
export function splitName(name: string): { host?: string; repository: string } {
  const slash = name.indexOf('/')
  return slash < 0 ? { repository: name } : { host: name.slice(0, slash), repository: name.slice(slash + 1) }
}

/**
 * Reads one repository and decides what retention would do, changing nothing: tags are listed and
 * read by tag (one GET each), configs read only where an age is needed, and the keep-set is the closure
 * (index children, referrers, cosign tags) of every kept tag. A digest is deleted only outside it.
 */
export async function planRepository(target: ReadOnlyTarget, opts: PlanOptions): Promise<RepositoryPlan> {
  const now = opts.now ?? Date.now()
  const reader = opts.reader ?? new GraphReader(target, { signal: opts.signal })
  const all = await target.listTags({ signal: opts.signal })
  reader.knowTags(all)
  const attachmentTags = all.filter((t) => parseAttachmentTag(t) !== undefined)
  const versionTags = all.filter((t) => parseAttachmentTag(t) === undefined)
  const name = splitName(target.name)
  const retention = opts.policy.retention

  const placeholders: PlaceholderTag[] = []
  const forbidden: ForbiddenTag[] = []
  const facts = await Promise.all(
    versionTags.map(async (tag): Promise<TagFacts | undefined> => {
      // One GET by tag, not a HEAD then a GET by digest: every tag's manifest is read for the keep-set or
      // the deletions anyway, and its digest comes with it.
      const m = await reader.taggedManifest(tag)
      if (!m) return undefined // deleted between the listing and the read
      if (isUntagPlaceholder(m)) {
        placeholders.push({ tag, digest: m.digest })
        return undefined
      }
      const env = environmentFor(opts.policy, { ...name, tag })
      forbidden.push(...forbiddenHere(opts.policy, { ...name, tag }, m.digest))
      const f: TagFacts = {
        tag,
        digest: m.digest,
        ...(env ? { environment: { name: env.name, retention: env.retention } } : {}),
      }
      const needsAge = env?.retention && 'keep' in env.retention
      if (needsAge) f.age = await ageOf(reader, m, `${target.name}:${tag}`, opts.ledger)
      return f
    }),
  )
  const verdicts = judgeTags(
    facts.filter((f): f is TagFacts => f !== undefined),
    retention,
    now,
  )

  // The keep-set: everything a kept tag reaches, attachments included.
  const kept = new Set<string>()
  const keptDigests = [...new Set(verdicts.filter((v) => v.keep).map((v) => v.digest))]
  await Promise.all(
    keptDigests.map(async (digest) => {
      for (const d of await reach(reader, digest)) kept.add(d)
    }),
  )

  const candidates = verdicts.filter((v) => !v.keep)
  const doomedRoots = [...new Set(candidates.map((v) => v.digest))].filter((d) => !kept.has(d))
  const manifests: DeletedManifest[] = []
  const planned = new Set<string>()
  for (const root of doomedRoots) {
    const c = await closure(reader, await reader.manifest(root), { referrers: true })
    const add = (m: Manifest, entry: Omit<DeletedManifest, 'digest' | 'mediaType'>) => {
      if (kept.has(m.digest) || planned.has(m.digest)) return
      planned.add(m.digest)
      manifests.push({ digest: m.digest, mediaType: m.mediaType, ...entry })
    }
    // The root first (its tags disappear at once), then index children, then attachments deepest first.
    add(c.root, { role: 'image' })
    for (const m of [...c.graph.manifests].reverse()) add(m, { role: 'child' })
    const attached = c.attached.map((node, i) => ({ node, graph: c.graphs[i]! }))
    for (const { node, graph } of attached.reverse()) {
      for (const m of [...graph.manifests].reverse()) {
        if (m.digest === node.manifest.digest) add(m, attachmentEntry(node))
        else add(m, { role: 'child' })
      }
    }
  }
  const deleted = new Set(manifests.map((m) => m.digest))

  const fallbackIndexes: FallbackIndex[] = []
  const orphanAttachmentTags: string[] = []
  const keptFallbacks = new Set<string>()
  const fallbackTags: { tag: string; subject: Digest; digest: Digest }[] = []
  await Promise.all(
    attachmentTags.map(async (tag) => {
      const parsed = parseAttachmentTag(tag)!
      if (parsed.kind !== 'index') {
        if (!kept.has(parsed.subject) && !deleted.has(parsed.subject)) orphanAttachmentTags.push(tag)
        return
      }
      const desc = await reader.tag(tag)
      if (!desc) return
      if (deleted.has(parsed.subject))
        fallbackTags.push({ tag, subject: parsed.subject, digest: desc.digest })
      else {
        keptFallbacks.add(desc.digest)
        if (!kept.has(parsed.subject)) orphanAttachmentTags.push(tag)
      }
    }),
  )
  for (const f of fallbackTags.sort((a, b) => (a.tag < b.tag ? -1 : 1))) {
    const shared = keptFallbacks.has(f.digest) || kept.has(f.digest)
    fallbackIndexes.push({ ...f, action: shared ? 'untag' : 'delete-manifest' })
  }

  const order = planOrder(opts.policy)
  const keep: KeptTag[] = verdicts
    .filter((v) => v.keep)
    .map(keptTag)
    .sort(order)
  const del: DeletedTag[] = candidates.map((v) => ({
    tag: v.tag,
    digest: v.digest as Digest,
    action: kept.has(v.digest) ? 'untag' : 'delete-manifest',
    environment: v.environment!.name,
    ...(v.version ? { version: v.version } : {}),
    ...(v.age ? { age: isoAge(v.age)! } : {}),
  }))
  del.sort(order)
  const untagSteps =
    del.filter((d) => d.action === 'untag').length +
    fallbackIndexes.filter((f) => f.action === 'untag').length
  const referrers = manifests.filter((m) => m.role === 'referrer' || m.role === 'cosign-tag')
  const untaggedPolicy = retention?.untagged ?? 'keep'
  return {
    repository: target.name,
    keep,
    delete: del,
    placeholders: placeholders.sort((a, b) => (a.tag < b.tag ? -1 : 1)),
    manifests,
    referrers,
    fallbackIndexes,
    orphanAttachmentTags: orphanAttachmentTags.sort(),
    forbidden: forbidden.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0)),
    untagged: {
      policy: untaggedPolicy,
      ...(untaggedPolicy === 'delete'
        ? {
            note: `the distribution API cannot list manifests no tag names; only children and attachments of deleted digests are deleted; the rest stays (distribution 2.x's garbage-collect --delete-untagged would also delete the platform images and referrers of kept images: not advised)`,
          }
        : {}),
    },
    needs: {
      manifestDelete: manifests.length > 0 || fallbackIndexes.some((f) => f.action === 'delete-manifest'),
      // A placeholder goes by tag DELETE or by manifest DELETE of its own digest: either will do.
      tagDelete: untagSteps + placeholders.length > 0,
    },
    tags: Object.fromEntries([
      ...verdicts.map((v) => [v.tag, v.digest as Digest]),
      ...placeholders.map((p) => [p.tag, p.digest]),
    ]),
    summary: {
      tags: verdicts.length + placeholders.length,
      kept: keep.length,
      untag: untagSteps,
      deleteManifests: manifests.length,
      referrers: referrers.length,
      fallbackIndexes: fallbackIndexes.length,
      placeholders: placeholders.length,
    },
  }
}

/** The `forbid.tags` rules of every environment the tag matches (as `policy check` and `tag` judge them). */
function forbiddenHere(
  policy: Policy,
  name: { host?: string; repository: string; tag: string },
  digest: Digest,
): ForbiddenTag[] {
  return judgesFor(policy, name).protecting.flatMap((env) => {
    const outcome = env.forbid?.tags && checkForbiddenTags(env.forbid.tags, name.tag)
    if (outcome?.result !== 'fail') return []
    return [{ tag: name.tag, digest, environment: env.name, pattern: String(outcome.evidence?.pattern) }]
  })
}

function keptTag(v: TagVerdict): KeptTag {
  return {
    tag: v.tag,
    digest: v.digest as Digest,
    reason: v.reason!,
    ...(v.environment ? { environment: v.environment.name } : {}),
    ...(v.version ? { version: v.version } : {}),
    ...(v.age ? { age: isoAge(v.age)! } : {}),
  }
}

function attachmentEntry(node: AttachedNode): Omit<DeletedManifest, 'digest' | 'mediaType'> {
  const artifactType = artifactTypeOf(node.manifest)
  return {
    role: node.scheme === 'cosign-tag' ? 'cosign-tag' : 'referrer',
    subject: node.subject,
    ...(artifactType ? { artifactType } : {}),
    ...(node.tag ? { tag: node.tag } : {}),
  }
}

/** Every manifest digest `digest` reaches: its graph, what is attached to it, and their graphs. */
export async function reach(reader: GraphReader, digest: string): Promise<string[]> {
  const c = await closure(reader, await reader.manifest(digest), { referrers: true })
  return [...c.graph.manifests, ...c.graphs.flatMap((g) => g.manifests)].map((m) => m.digest)
}
