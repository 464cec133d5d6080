import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import { resolveIfPresent } from '../content/present.js'
import { storeManifest } from '../content/store.js'
import type { OperationOptions, ReadOnlyTarget, Target } from '../content/target.js'
import { isUntagPlaceholder } from '../content/untag-placeholder.js'
import { transferBlobs } from '../copy/blobs.js'
import { DEFAULT_CONCURRENCY } from '../copy/copy.js'
import { FerryError, isFerryError } from '../errors.js'
import { type AdmittedWrite, admitWrite, type Governance, governs } from '../governance/governed.js'
import type { GraphReader } from '../graph/index.js'
import { openLayoutTarget } from '../layout/index.js'
import { type Digest, isDigest } from '../oci/digest.js'
import { childrenOf, type Manifest } from '../oci/manifest.js'
import { writeFileAtomic } from '../util/files.js'
import { Limiter } from '../util/limit.js'
import { type DeletedManifest, type RepositoryPlan, splitName } from './plan.js'

/**
 * Before retention changes anything it writes what it will touch into an OCI layout: every manifest it
 * deletes (and every index it removes), the tags that go with the digests they named, and the whole of
 * each attached SBOM, signature and attestation (their blobs are small and are what audits ask for).
 * Image layers are not copied: they stay in the registry until its garbage collection runs, and until
 * then `restore` can put the manifests back.
 */
export const BACKUP_FILE = 'retention-backup.json'

const digestSchema = z.string().refine(isDigest, { message: 'not a digest' })

const repositoryBackupSchema = z.looseObject({
  repository: z.string(),
  /** The layout view (repository path) the manifests are under. */
  view: z.string(),
  /** Tags that lose their digest (untagged or deleted with it), and attachment tags that go. */
  tags: z.record(z.string(), digestSchema),
  /** In the order `restore` pushes them: children before parents, subjects before their referrers. */
  manifests: z.array(z.looseObject({ digest: digestSchema, role: z.string() })),
  blobs: z.number().int().nonnegative(),
})
export type RepositoryBackup = z.infer<typeof repositoryBackupSchema>

const backupSchema = z.looseObject({
  version: z.literal(1),
  created: z.string(),
  note: z.string().optional(),
  repositories: z.array(repositoryBackupSchema),
})
export type BackupRecord = z.infer<typeof backupSchema>

const NOTE =
  'Manifests, tags and attached artifacts retention removed. `ferry retention restore DIR` re-pushes them; image layers are not here and stay in the registry only until its garbage collection runs.'

/** A backup directory belongs to one apply run: an existing backup is never added to or overwritten. */
export async function claimBackupDir(dir: string): Promise<void> {
  const existing = await readFile(join(dir, BACKUP_FILE), 'utf8').then(
    () => true,
    () => false,
  )
  if (existing) {
    throw new FerryError(
      'USAGE',
      `${dir} already holds a retention backup; give a new directory (e.g. one named by date), or leave --backup out for a fresh one under the state directory`,
    )
  }
}

export interface BackupSummary {
  dir: string
  manifests: number
  blobs: number
  tags: number
}

const isAttachment = (role: string) => role === 'referrer' || role === 'cosign-tag'

/** What a backup needs of a manifest that goes: its digest, its role, and the cosign tag it lives under. */
export type BackedUpManifest = Pick<DeletedManifest, 'digest' | 'role' | 'tag'>

/** Manifests in restore order: what the delete order takes apart, rebuilt bottom up. */
function restoreOrder(deleted: readonly BackedUpManifest[]): BackedUpManifest[] {
  const images = deleted.filter((m) => !isAttachment(m.role)).reverse()
  const attachments = deleted.filter((m) => isAttachment(m.role)).reverse()
  return [...images, ...attachments]
}

/**
 * Backs up what `plan` removes, and `carried`: the deletes an interrupted run left, which this run
 * carries out (in their order, before the plan's).
 */
export async function writeBackup(
  dir: string,
  reader: GraphReader,
  plan: RepositoryPlan,
  opts: OperationOptions = {},
  carried: readonly BackedUpManifest[] = [],
): Promise<BackupSummary> {
  // A registry's HOST/PATH keeps its PATH; another layout's view is named `backup`.
  const view = plan.repository.startsWith('oci:')
    ? 'backup'
    : plan.repository.slice(plan.repository.indexOf('/') + 1)
  const layout = await openLayoutTarget(dir, { create: true, repository: view })
  try {
    let blobs = 0
    const deleted = [...carried, ...plan.manifests]
    const manifests = restoreOrder(deleted)
    for (const entry of manifests) {
      const m = await reader.manifest(entry.digest)
      if (isAttachment(entry.role)) blobs += await transferAttachment(reader.target, layout, m, opts)
      await layout.pushManifest(m, opts)
    }
    const tags: Record<string, Digest> = {}
    for (const d of plan.delete) tags[d.tag] = d.digest
    for (const m of deleted) if (m.tag) tags[m.tag] = m.digest
    for (const f of plan.fallbackIndexes) tags[f.tag] = f.digest
    for (const [tag, digest] of Object.entries(tags)) {
      await layout.tag(await reader.manifest(digest), tag, opts)
    }
    const entry: RepositoryBackup = {
      repository: plan.repository,
      view,
      tags,
      manifests: manifests.map((m) => ({ digest: m.digest, role: m.role })),
      blobs,
    }
    // One record per run, rewritten as each repository is backed up (apply takes them one at a time).
    const previous = await readBackup(dir).catch(() => undefined)
    const record: BackupRecord = {
      version: 1,
      created: previous?.created ?? new Date().toISOString(),
      note: NOTE,
      repositories: [
        ...(previous?.repositories ?? []).filter((r) => r.repository !== plan.repository),
        entry,
      ],
    }
    await writeFileAtomic(join(dir, BACKUP_FILE), Buffer.from(`${JSON.stringify(record, null, 2)}\n`))
    return { dir, manifests: manifests.length, blobs, tags: Object.keys(tags).length }
  } finally {
    await layout.close()
  }
}

/** An attachment's blobs (small: SBOMs, signatures), moved as a copy moves them; how many `to` lacked. */
async function transferAttachment(
  from: ReadOnlyTarget,
  to: Target,
  m: Manifest,
  opts: OperationOptions,
): Promise<number> {
  const limit = new Limiter(DEFAULT_CONCURRENCY)
  const tally = await transferBlobs(from, to, childrenOf(m).blobs, limit, m.digest, () => {}, {
    signal: opts.signal,
  })
  return tally.copied + tally.mounted
}

export async function readBackup(dir: string): Promise<BackupRecord> {
  const path = join(dir, BACKUP_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new FerryError('NOT_FOUND', `${path}: not a retention backup (no ${BACKUP_FILE})`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  const parsed = backupSchema.safeParse(doc)
  if (!parsed.success) {
    throw new FerryError('USAGE', `${path}: not a retention backup: ${parsed.error.issues[0]?.message}`)
  }
  return parsed.data
}

/** A backed-up tag that names something else now (its name was re-used since the apply). */
export interface TagConflict {
  tag: string
  /** What the backup says it named. */
  backup: Digest
  /** What it names now. */
  current: Digest
}

export interface RestoreResult {
  repository: string
  manifests: number
  blobs: number
  /** Tags that name what the backup says (set now, or already). */
  tags: number
  /** Re-used tags left as they are (without `force`). */
  conflicts: TagConflict[]
  /** Re-used tags moved back to the backup's digest (with `force`). */
  moved: { tag: string; from: Digest; to: Digest }[]
}

export interface RestoreOptions extends OperationOptions {
  /** Move re-used tags back as well (each reported in `moved`). */
  force?: boolean
  /**
   * The repository's policy and the ledger: every tag to put back is judged by the name rules (naming,
   * forbidden tags, SemVer, immutability) before anything is pushed, and each one restored is recorded.
   */
  governance?: Governance
}

/**
 * Pushes a backup's manifests (with the blobs it holds) and then its tags into `target`. Image layers
 * are not in the backup: a manifest whose layers the registry's GC has removed is refused by the
 * registry, and the error says so. A tag is set where it is absent, or names ferry's untag placeholder
 * (an untag a killed run left half done); one that names another digest was re-used since the apply
 * and is a conflict, left as it is unless `force`. Each tag is written only if it still names what
 * was read (a writer in between is a CONFLICT error, not a silent overwrite).
 */
export async function restoreRepository(
  dir: string,
  record: RepositoryBackup,
  target: Target,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  const layout = await openLayoutTarget(dir, { repository: record.view })
  try {
    const result: RestoreResult = {
      repository: target.name,
      manifests: record.manifests.length,
      blobs: 0,
      tags: 0,
      conflicts: [],
      moved: [],
    }
    // What each tag names now, decided before anything is pushed, so the policy can refuse first.
    const writes: { tag: string; digest: Digest; current?: Digest; reused: boolean }[] = []
    for (const [tag, digest] of Object.entries(record.tags) as [string, Digest][]) {
      const current = (await resolveIfPresent(target, tag, opts))?.digest as Digest | undefined
      if (current === digest) {
        result.tags++
        continue
      }
      const reused = current !== undefined && !isUntagPlaceholder(await target.fetchManifest(current, opts))
      if (reused && !opts.force) result.conflicts.push({ tag, backup: digest, current })
      else writes.push({ tag, digest, ...(current ? { current } : {}), reused })
    }
    const admitted = new Map<string, AdmittedWrite>()
    if (governs(opts.governance)) {
      const where = splitName(target.name)
      for (const w of writes) {
        const judged = await admitWrite(opts.governance, {
          operation: 'retention-restore',
          source: dir,
          name: { ...where, tag: w.tag },
          manifest: await layout.fetchManifest(w.digest, opts),
          content: layout,
          // ferry's untag placeholder stands for "no tag": putting the tag back moves nothing.
          existing: w.reused ? w.current! : null,
          // The image was in this repository before the apply: the name rules judge putting it back.
          nameOnly: true,
        })
        admitted.set(w.tag, judged)
      }
    }
    for (const entry of record.manifests) {
      const m = await layout.fetchManifest(entry.digest, opts)
      if (isAttachment(entry.role)) result.blobs += await transferAttachment(layout, target, m, opts)
      try {
        await storeManifest(target, m, opts)
      } catch (err) {
        if (isFerryError(err) && /BLOB_UNKNOWN|MANIFEST_UNKNOWN/.test(err.message)) {
          throw new FerryError(
            err.code,
            `${target.name}@${m.digest}: ${err.message} (its layers are gone: the registry's garbage collection ran after the backup, or --to names a repository without them)`,
          )
        }
        throw err
      }
    }
    for (const { tag, digest, current, reused } of writes) {
      await target.tag(await layout.fetchManifest(digest, opts), tag, {
        ...opts,
        precondition: current === undefined ? { ifAbsent: true } : { ifMatch: current },
      })
      await admitted.get(tag)?.record()
      if (reused) result.moved.push({ tag, from: current!, to: digest })
      result.tags++
    }
    return result
  } finally {
    await layout.close()
  }
}
