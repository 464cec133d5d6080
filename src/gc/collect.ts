import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { INGEST_DIR } from '../layout/blobs.js'
import type { OciLayout } from '../layout/index.js'
import { Marks } from './mark.js'
import { finishInterruptedSweeps, listBlobFiles, sweepBlob } from './sweep.js'

/** An hour: a client pushes its blobs, then its manifest; nothing it pushed in the meantime goes. */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000

export interface GcOptions {
  /** Unreachable files written (or relied on) more recently than this stay. Default 1 h. */
  graceMs?: number
  /** List what would go; delete nothing. */
  dryRun?: boolean
  /**
   * Digests to keep although unreachable: what the caller vouched for within the grace period (`serve`:
   * blobs a client was just told exist, which its next manifest may name).
   */
  protect?: (digest: string) => boolean
  /**
   * Runs the final mark and the sweep. Default: holding index.json's lock, so no tag lands meanwhile;
   * `serve` also holds off its own manifest writes.
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>
  /** Default Date.now. */
  now?: () => number
}

export interface GcItem {
  digest: string
  kind: 'manifest' | 'blob'
  size: number
  /** The file's mtime, RFC 3339. */
  modified: string
}

export interface GcResult {
  root: string
  dryRun: boolean
  graceMs: number
  /** Manifests and blobs something still reaches: kept. */
  reachable: { manifests: number; blobs: number }
  /** What was deleted (with dryRun: what would be), by digest. */
  freed: GcItem[]
  summary: { manifests: number; blobs: number; bytes: number }
  /** Unreachable files kept: younger than the grace period, or vouched for. */
  young: number
  /** Manifests an entry or an index names that the layout does not have. */
  missing: string[]
}

/**
 * Garbage collection of an OCI layout (ferry serve's root): marks what every index.json entry reaches
 * (mark.ts), then deletes the files of `blobs/` nothing reaches and nobody wrote within the grace period.
 * The mark runs first without a lock; then, holding the index lock (`exclusive`), it is brought up to
 * date with what was written meanwhile and the sweep runs. Upload sessions and blobs being written are
 * outside `blobs/` and never touched.
 */
export async function collectGarbage(layout: OciLayout, opts: GcOptions = {}): Promise<GcResult> {
  const graceMs = opts.graceMs ?? DEFAULT_GC_GRACE_MS
  const dryRun = opts.dryRun ?? false
  const marks = new Marks(layout)
  await marks.fromEntries()
  const exclusive = opts.exclusive ?? (<T>(fn: () => Promise<T>) => layout.whileIndexLocked(fn))
  return exclusive(async () => {
    const cutoff = (opts.now ?? Date.now)() - graceMs
    await marks.fromEntries()
    const files = await listBlobFiles(layout.dir)
    await marks.referrersAmong(files.filter((f) => !marks.has(f.digest)))
    if (!dryRun) {
      await mkdir(join(layout.dir, INGEST_DIR), { recursive: true })
      await finishInterruptedSweeps(layout.dir, cutoff)
    }
    const freed: GcItem[] = []
    let young = 0
    for (const f of files) {
      if (marks.has(f.digest)) continue
      if (f.mtimeMs >= cutoff || opts.protect?.(f.digest)) {
        young++
        continue
      }
      const item: GcItem = {
        digest: f.digest,
        kind: marks.isManifest(f.digest) ? 'manifest' : 'blob',
        size: f.size,
        modified: new Date(f.mtimeMs).toISOString(),
      }
      if (dryRun || (await sweepBlob(layout.dir, f.digest, cutoff))) freed.push(item)
      else young++
    }
    const count = (kind: GcItem['kind']) => freed.filter((i) => i.kind === kind).length
    return {
      root: layout.dir,
      dryRun,
      graceMs,
      reachable: { manifests: marks.manifests.size, blobs: marks.blobs.size },
      freed,
      summary: {
        manifests: count('manifest'),
        blobs: count('blob'),
        bytes: freed.reduce((n, i) => n + i.size, 0),
      },
      young,
      missing: [...marks.missing].sort(),
    }
  })
}
