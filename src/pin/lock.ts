/**
 * `ferry.lock.json`: what `ferry pin` pinned and on what evidence, one entry per image (an image named
 * in several files is one entry listing them). Sorted and free of times, so the same run writes the
 * same bytes and a diff of the lock file shows exactly what changed.
 */
import type { Digest } from '../oci/digest.js'
import type { Evidence } from './gate.js'

export const LOCK_FORMAT_VERSION = 1
export const DEFAULT_LOCK_FILE = 'ferry.lock.json'

export interface LockEntry {
  /** As written in the file before: `postgres:16`. */
  original: string
  /** As written after: `reg.local:5000/cache/library/postgres:16@sha256:…`. */
  pinned: string
  digest: Digest
  /** False only under --allow-unverified, with the gate's messages as warnings. */
  verified: boolean
  evidence: Evidence
  warnings?: string[]
  /** `compose.yaml: services.db.image`, the file relative to the directory it was found in */
  sites: string[]
}

export interface LockFile {
  formatVersion: typeof LOCK_FORMAT_VERSION
  images: LockEntry[]
}

export function lockFile(entries: readonly LockEntry[]): LockFile {
  const merged = new Map<string, LockEntry>()
  for (const e of entries) {
    const key = `${e.original}\n${e.pinned}`
    const seen = merged.get(key)
    if (seen) seen.sites = [...new Set([...seen.sites, ...e.sites])].sort()
    else merged.set(key, { ...e, sites: [...e.sites].sort() })
  }
  const images = [...merged.values()].sort((a, b) =>
    a.original === b.original ? a.pinned.localeCompare(b.pinned) : a.original.localeCompare(b.original),
  )
  return { formatVersion: LOCK_FORMAT_VERSION, images }
}

export const encodeLock = (lock: LockFile) => Buffer.from(`${JSON.stringify(lock, null, 2)}\n`)
