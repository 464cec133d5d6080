import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import type { ReadOnlyTarget } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { OciLayout } from '../layout/index.js'
import { INDEX_FILE } from '../layout/layout-files.js'
import { entryRepository } from '../layout/naming.js'
import type { Digest } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'
import { isRepositoryName } from '../reference/grammar.js'

/**
 * Where a blob's bytes are. `file`: a byte range of a file the server opens and sends with its own
 * reused buffers (a layout's blob file, or a blob inside a one-file bundle). `target`: anything else (a
 * split bundle, whose blobs may straddle two part files), read through the repository's ReadOnlyTarget.
 */
export type BlobBytes =
  | {
      kind: 'file'
      path: string
      /** Where the blob starts in the file. */
      offset: number
      /** Undefined: the blob is the whole file (its size is the file's). */
      size?: number
      /** Whole-blob answers are hashed as they are sent, and cut off before the end unless they match. */
      verify: boolean
      /** Throws when the file just opened is not the one the store vouches for. */
      checkOpened?: (st: Stats) => void
    }
  | { kind: 'target'; size: number }

/**
 * What serve's read endpoints serve from, beside the storage contract: an OCI layout directory (also
 * writable, through the layout itself) or a verified bundle file (read-only). Content is read through
 * `target(name)`, a ReadOnlyTarget like any other; the rest is what a registry needs that the contract
 * does not say: which repositories there are and which manifests each holds by name (for the spec's
 * per-repository rules, reachable.ts), and where a blob's bytes lie (so a file is sent without a stream).
 * Repository names here are the ones clients use. A pull-through cache is not a store: it is a
 * CachingTarget per repository (upstream/caching-target.ts).
 */
export interface ContentStore {
  /** For messages: the layout directory or the bundle file. */
  readonly name: string
  /** Repository names clients can address, sorted. */
  repositories(): Promise<string[]>
  /** A read view of one repository (tags, manifests, blobs, referrers). */
  target(name: string): ReadOnlyTarget
  /** index.json entries of one repository: the manifests it holds by name (see reachable.ts). */
  entriesOf(name: string): Promise<Descriptor[]>
  /** Undefined when the store does not hold the blob. */
  openBlob(digest: Digest): Promise<BlobBytes | undefined>
  /** Throws when what is served is no longer what was verified; runs before every request. */
  check?(): Promise<void>
  close(): Promise<void>
}

/**
 * The layout served as it always was: every read goes to the directory; only the parsed index.json is
 * kept, for as long as a stat finds the same file (index.json is only ever replaced by rename, so a new
 * inode, size or mtime means new content; another process writing the layout is seen at once). Tags without
 * a repository (what `skopeo copy … oci:DIR:TAG` writes) are served, and pushed to, as repository
 * `bareName` (see naming.ts); a layout repository of that same name is then hidden behind them.
 */
export function layoutStore(layout: OciLayout, bareName?: string): ContentStore {
  const view = (name: string) => (name === bareName ? undefined : name)
  let memo: { key: string; manifests: Descriptor[] } | undefined
  const manifests = async () => {
    const st = await stat(join(layout.dir, INDEX_FILE), { bigint: true }).catch(() => undefined)
    const key = st && `${st.ino}:${st.size}:${st.mtimeNs}`
    if (key && memo?.key === key) return memo.manifests
    const read = (await layout.readIndex()).index.manifests
    if (key) memo = { key, manifests: read }
    return read
  }
  const entriesOf = async (name: string) =>
    (await manifests()).filter((e) => entryRepository(e) === view(name))
  return {
    name: layout.dir,
    async repositories() {
      const named = await layout.repositories()
      if (bareName === undefined || (await entriesOf(bareName)).length === 0) return named
      return [...new Set([...named, bareName])].sort()
    },
    target: (name) => layout.target(view(name)),
    entriesOf,
    // Layout blobs are written only after they verify and renamed into place, so the file is trusted as is.
    openBlob: async (digest) => ({ kind: 'file', path: layout.blobPath(digest), offset: 0, verify: false }),
    close: async () => {},
  }
}

/**
 * The repository name the no-repository view is served as: `--repository`, else the directory's base
 * name when it is a valid repository name. Undefined: not served (and a warning if it holds tags).
 */
export function bareRepositoryName(dir: string, explicit: string | undefined): string | undefined {
  if (explicit !== undefined) {
    if (!isRepositoryName(explicit)) {
      throw new FerryError(
        'USAGE',
        `invalid --repository "${explicit}": lower-case components joined by . _ __ - and /`,
      )
    }
    return explicit
  }
  const base = basename(resolve(dir))
  return isRepositoryName(base) ? base : undefined
}
