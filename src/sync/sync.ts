import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Context } from '../context.js'
import { UploadJournal } from '../copy/upload-journal.js'
import { FerryError, isFerryError } from '../errors.js'
import { type Governance, governs } from '../governance/governance.js'
import { formatLocation } from '../reference/index.js'
import type { RegistryClient } from '../registry/index.js'
import { loadSyncSpec, type SyncSpec } from '../spec/sync-spec.js'
import { TargetSet } from '../targets/open.js'
import { forEachLimited, Limiter } from '../util/limit.js'
import { acquireLock } from '../util/lock.js'
import { ferryStateDir } from '../util/state-dir.js'
import { expandSpec, inSync, type SyncItem } from './plan.js'
import { inShard, type Shard, shardLabel } from './shard.js'

export interface SyncOptions {
  /** Decide and report, write nothing. */
  dryRun?: boolean
  /** Images at once; default: the spec's `concurrency`. */
  concurrency?: number
  /** Blobs in flight across all images at once. Default 8. */
  blobConcurrency?: number
  /**
   * The destinations' policy and the ledger: each image is judged before anything of it is sent (a
   * refusal is that image's failure, POLICY_VIOLATION) and each copy recorded.
   */
  governance?: Governance
  /** Only the source repositories of this shard (shard.ts); its own lock and upload journal. */
  shard?: Shard
  /** Where large uploads are journalled for a rerun; default: the user's, or the shard's with `shard`. */
  journal?: UploadJournal
}

export type SyncStatus = 'copied' | 'in-sync' | 'would-copy' | 'failed'

export interface SyncEntry {
  source: string
  destination: string
  status: SyncStatus
  sourceDigest?: string
  destinationDigest?: string
  bytes: number
  manifestsPushed: number
  blobs?: { copied: number; skipped: number; mounted: number }
  error?: { code: string; message: string }
}

export interface SyncReport {
  spec: string
  dryRun: boolean
  /** The shard this run mirrored, when sharded. */
  shard?: Shard
  entries: SyncEntry[]
  totals: {
    images: number
    copied: number
    inSync: number
    wouldCopy: number
    failed: number
    bytes: number
    manifestsPushed: number
  }
  durationMs: number
}

/**
 * `ferry sync FILE`: load, lock (two runs of one spec never overlap), mirror, report. The context's
 * signal stops the run (Ctrl-C): images not yet copied are reported failed with ABORTED.
 */
export async function runSync(ctx: Context, path: string, opts: SyncOptions = {}): Promise<SyncReport> {
  const spec = await loadSyncSpec(path)
  // The lock's heartbeat keeps a run of any length fresh, so a crashed run (here, or in another
  // container sharing the state directory) frees the spec within the default staleness.
  const lock = await acquireLock(await syncLockPath(path, opts.shard), { timeoutMs: 0 }).catch((err) => {
    const which = opts.shard ? ` (shard ${opts.shard.index}/${opts.shard.count})` : ''
    throw new FerryError(
      'CONFLICT',
      `${path}: another ferry sync of this spec${which} is running (${(err as Error).message})`,
    )
  })
  try {
    // Shards sharing a state directory (one volume for every pod) would otherwise queue on one journal.
    const journal =
      opts.journal ??
      (opts.shard
        ? new UploadJournal(join(ferryStateDir(), `uploads-${shardLabel(opts.shard)}.json`))
        : undefined)
    return await syncSpec(ctx, spec, path, { ...opts, ...(journal ? { journal } : {}) })
  } finally {
    await lock.release()
  }
}

export async function syncSpec(
  ctx: Context,
  spec: SyncSpec,
  name: string,
  opts: SyncOptions = {},
): Promise<SyncReport> {
  const started = performance.now()
  // One client for every registry; a bundle source is verified once, however many images it holds.
  const targets = new TargetSet(ctx)
  const { client } = ctx
  const entries: SyncEntry[] = []
  const { shard } = opts
  // A shard sees only its source repositories, so it neither lists nor checks the others.
  if (shard) spec = { ...spec, images: spec.images.filter((image) => inShard(image.source, shard)) }
  try {
    const images = new Limiter(opts.concurrency ?? spec.concurrency)
    const expanded = await expandSpec(spec, targets, images)
    for (const e of expanded) if ('failed' in e) entries.push(failure(e.failed.source, '', e.failed.error))
    const items = expanded.flatMap((e) => ('item' in e ? [e.item] : []))
    const blobs = new Limiter(opts.blobConcurrency ?? 8)
    const tags = await destinationTags(items, client, images)
    // Image-level failures are recorded, never thrown: one bad image must not stop the others.
    await forEachLimited(items, images, async (item) => {
      entries.push(await syncItem(ctx, item, targets, blobs, opts, tags.get(destinationName(item))))
    })
  } finally {
    await targets.close()
  }
  const count = (s: SyncStatus) => entries.filter((e) => e.status === s).length
  return {
    spec: name,
    dryRun: !!opts.dryRun,
    ...(shard ? { shard } : {}),
    entries,
    totals: {
      images: entries.length,
      copied: count('copied'),
      inSync: count('in-sync'),
      wouldCopy: count('would-copy'),
      failed: count('failed'),
      bytes: entries.reduce((n, e) => n + e.bytes, 0),
      manifestsPushed: entries.reduce((n, e) => n + e.manifestsPushed, 0),
    },
    durationMs: Math.round(performance.now() - started),
  }
}

const destinationName = (item: SyncItem) => `${item.destination.registry}/${item.destination.repository}`

/**
 * Each destination repository's tags, listed once: a tag it lacks needs no HEAD to know it must be
 * copied, and a repository without any tag (or not there yet) has none of the small blobs to upload
 * either. A listing that fails leaves that repository to per-tag HEADs, as before.
 */
async function destinationTags(
  items: SyncItem[],
  client: RegistryClient,
  limit: Limiter,
): Promise<Map<string, Set<string>>> {
  const repos = new Map(items.map((i) => [destinationName(i), i.destination]))
  const out = new Map<string, Set<string>>()
  await forEachLimited([...repos], limit, async ([name, d]) => {
    const repo = client.repository(d)
    const tags = await repo
      .listTags()
      .catch((err: unknown) => (isFerryError(err, 'NOT_FOUND') ? [] : undefined))
    if (!tags) return
    if (tags.length === 0) repo.knownEmpty()
    out.set(name, new Set(tags))
  })
  return out
}

async function syncItem(
  ctx: Context,
  item: SyncItem,
  targets: TargetSet,
  blobs: Limiter,
  opts: SyncOptions,
  destinationTags?: ReadonlySet<string>,
): Promise<SyncEntry> {
  const source = formatLocation(item.source)
  const destination = `${item.destination.registry}/${item.destination.repository}${item.tag ? `:${item.tag}` : ''}`
  const to = ctx.client.repository(item.destination)
  try {
    const { target: from } = await targets.openSource(item.source)
    const check = await inSync(item, from, to, { tags: destinationTags, fetchWhenAbsent: !opts.dryRun })
    const { sourceDigest } = check
    // Each entry lives until the report is printed, so each is a plain literal: V8 gives an object whose
    // spread (`{ ...base, bytes }`) a later key overrides a hidden class of its own, ~0.5 KiB an image.
    if (check.synced)
      return { source, destination, sourceDigest, bytes: 0, manifestsPushed: 0, status: 'in-sync' }
    if (opts.dryRun) {
      // A dry run says which images the policy would refuse, as the real run would, and writes nothing.
      if (opts.governance?.policy) {
        const { judgeWrite } = await import('../governance/governed.js')
        await judgeWrite(opts.governance, {
          operation: 'sync',
          source,
          name: {
            host: item.destination.registry,
            repository: item.destination.repository,
            ...(item.tag !== undefined ? { tag: item.tag } : {}),
          },
          manifest: check.sourceManifest ?? (await from.fetchManifest(check.sourceDigest)),
          content: from,
          existing: check.destinationDigest,
        })
      }
      return { source, destination, sourceDigest, bytes: 0, manifestsPushed: 0, status: 'would-copy' }
    }
    // Imported at the first image to copy: a run that finds everything in sync never loads the copy
    // engine nor the policy checks (bench/README.md, "Start-up").
    const { copyImage } = await import('../copy/copy.js')
    const hooks =
      governs(opts.governance) &&
      (await import('../governance/governed.js')).governedCopy(opts.governance, {
        operation: 'sync',
        source,
        name: { host: item.destination.registry, repository: item.destination.repository },
        ...(check.destinationDigest !== undefined ? { existing: check.destinationDigest } : {}),
      })
    const result = await copyImage(from, check.sourceDigest, to, item.tag, {
      ...(hooks ? { hooks } : {}),
      platforms: item.platforms,
      referrers: item.referrers,
      limiter: blobs,
      destinationTagDigest: check.destinationDigest,
      sourceManifest: check.sourceManifest,
      sourceTags: item.sourceTags,
      ...(opts.journal ? { journal: opts.journal } : {}),
      progress: ctx.progress,
      signal: ctx.signal,
    })
    const { copied, skipped, mounted } = result.blobs
    return {
      source,
      destination,
      sourceDigest,
      bytes: result.bytes,
      manifestsPushed: result.manifests.pushed,
      status: 'copied',
      destinationDigest: result.destination.digest,
      blobs: { copied, skipped, mounted },
    }
  } catch (err) {
    return failure(source, destination, err)
  }
}

function failure(source: string, destination: string, err: unknown): SyncEntry {
  const code = err instanceof FerryError ? err.code : 'INTERNAL'
  const message = err instanceof Error ? err.message : String(err)
  return { source, destination, status: 'failed', bytes: 0, manifestsPushed: 0, error: { code, message } }
}

/** One lock per spec file (and shard), under the user's state directory (XDG). */
export async function syncLockPath(specPath: string, shard?: Shard): Promise<string> {
  const dir = join(ferryStateDir(), 'locks')
  await mkdir(dir, { recursive: true })
  const id = createHash('sha256').update(resolve(specPath)).digest('hex').slice(0, 16)
  return join(dir, shard ? `sync-${id}-${shardLabel(shard)}.lock` : `sync-${id}.lock`)
}
