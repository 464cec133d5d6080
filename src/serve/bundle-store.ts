import type { KeyObject } from 'node:crypto'
import { imageNameProblem } from '../bundle/names.js'
import { BundleReader, sameFile } from '../bundle/reader.js'
import type { ReadOnlyTarget } from '../content/target.js'
import { entryRepository } from '../layout/naming.js'
import type { Logger } from '../log.js'
import type { Digest } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'
import type { ProgressSink } from '../progress.js'
import { isRepositoryName } from '../reference/grammar.js'
import { singleKeySet } from '../sign/key-set.js'
import { plural } from '../util/plural.js'
import { ApiError } from './errors.js'
import type { BlobBytes, ContentStore } from './store.js'

/**
 * The repository name clients use for a bundle repository: its source name (`docker.io/library/postgres`)
 * as is, or, for a source registry with a port (`registry.intra:5000/acme/web`), which the
 * distribution-spec name grammar cannot hold, with the port joined by `_`: `registry.intra_5000/acme/web`.
 * No host name contains `_` (RFC 1123), so such a name never meets a real registry's. Undefined: the
 * name has no form a client can send (upper case, an IPv6 host).
 */
export function servedName(source: string): string | undefined {
  if (isRepositoryName(source)) return source
  const alias = source.replace(/^([^/:]+):(\d+)\//, '$1_$2/')
  return isRepositoryName(alias) ? alias : undefined
}

export interface BundleStoreOptions {
  /** Checks the bundle's signature with this key; the bundle is refused unless it verifies. */
  publicKey?: KeyObject
  /** The start-up verifying pass (phase `verify`). */
  progress?: ProgressSink
  logger: Logger
}

/** A served bundle, for the start-up message. */
export interface ServedBundle {
  file: string
  name: string
  version: string
  signature: BundleReader['signature']
  /** Repository names as clients use them, each with its tags. */
  repositories: { name: string; source: string; tags: string[] }[]
}

/**
 * A bundle file served read-only. The one verifying pass of BundleReader.open runs before the server
 * listens; every request is then answered from the offsets it recorded, after checking (one stat per
 * file) that the file is still the one that pass read.
 */
export class BundleStore implements ContentStore {
  private readonly targets = new Map<string, ReadOnlyTarget>()

  private constructor(
    private readonly reader: BundleReader,
    /** Served name to source repository. */
    private readonly names: ReadonlyMap<string, string>,
  ) {}

  static async open(path: string, opts: BundleStoreOptions): Promise<BundleStore> {
    const reader = await BundleReader.open(path, {
      keys: opts.publicKey && singleKeySet(opts.publicKey),
      progress: opts.progress,
    })
    const names = new Map<string, string>()
    for (const source of reader.repositories()) {
      // The check bundle verify and import refuse such a bundle by; here the other repositories still serve.
      const problem = imageNameProblem(source)
      const served = problem === undefined ? servedName(source) : undefined
      if (served === undefined || names.has(served)) {
        opts.logger.warn(
          `${path}: repository ${source} has no name a registry client can ask for${problem ? ` (${problem})` : ''}; not served`,
        )
        continue
      }
      names.set(served, source)
    }
    const omitted = reader.metadata.omitted.length
    if (omitted > 0) {
      opts.logger.warn(
        `${path} is a delta bundle: ${plural(omitted, 'blob')} its images need are left out, and pulls that need them fail (404)`,
      )
    }
    return new BundleStore(reader, names)
  }

  get name(): string {
    return this.reader.name
  }

  async describe(): Promise<ServedBundle> {
    const repositories = await Promise.all(
      [...this.names].map(async ([name, source]) => ({
        name,
        source,
        tags: await this.target(name).listTags(),
      })),
    )
    const { metadata } = this.reader
    return {
      file: this.reader.name,
      name: metadata.name,
      version: metadata.version,
      signature: this.reader.signature,
      repositories: repositories.sort((a, b) => (a.name < b.name ? -1 : 1)),
    }
  }

  async repositories(): Promise<string[]> {
    return [...this.names.keys()].sort()
  }

  target(name: string): ReadOnlyTarget {
    const source = this.names.get(name)
    // A name the bundle does not hold views no entries: tags are unknown and reachable.ts finds nothing.
    if (source === undefined) return this.reader.target(name)
    let target = this.targets.get(name)
    if (!target) {
      // Kept: each target caches which manifests refer to which, for the referrers API.
      target = this.reader.target(source)
      this.targets.set(name, target)
    }
    return target
  }

  async entriesOf(name: string): Promise<Descriptor[]> {
    const source = this.names.get(name)
    if (source === undefined) return []
    return this.reader.index.manifests.filter((e) => entryRepository(e) === source)
  }

  async openBlob(digest: Digest): Promise<BlobBytes | undefined> {
    const loc = this.reader.location(digest)
    if (!loc) return undefined
    const file = this.reader.blobLocation(digest)
    const stamp = this.reader.stamps[0]!
    if (file) {
      return {
        kind: 'file',
        ...file,
        // The pass verified every byte, but only of the file it read: a full answer is hashed again as
        // it goes out (a fraction of what reading a USB disk costs), a ranged one cannot be, so the file
        // opened for it must be that same file, unmodified (inode, size, mtime).
        verify: true,
        checkOpened: (st) => {
          if (!sameFile(stamp, st)) throw this.changed(file.path)
        },
      }
    }
    // Not one range of one file (a split bundle's part files): read through the bundle's target.
    return { kind: 'target', size: loc.size }
  }

  async check(): Promise<void> {
    const changed = await this.reader.changedFile()
    if (changed !== undefined) throw this.changed(changed)
  }

  close(): Promise<void> {
    return this.reader.close()
  }

  private changed(path: string): ApiError {
    return new ApiError(
      'UNAVAILABLE',
      `bundle file ${path} changed since it was verified at start-up; restart the server to verify it again`,
    )
  }
}
