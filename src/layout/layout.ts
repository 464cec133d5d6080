import { readFile, rename, unlink } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { FerryError } from '../errors.js'
import { type Logger, silentLogger } from '../log.js'
import { type Digest, parseDigest } from '../oci/digest.js'
import { type ImageIndex, imageIndexSchema } from '../oci/schemas.js'
import { errno, fsyncDir, siblingTemp, writeNewFileSynced } from '../util/files.js'
import { withLock } from '../util/lock.js'
import { adoptBlob, fileSize } from './blobs.js'
import { BLOBS_DIR, ensureLayout, INDEX_FILE, parseIndexBytes, serializeIndex } from './layout-files.js'
import { entryRepository } from './naming.js'
import { LayoutTarget } from './target.js'

export interface LayoutOptions {
  /** Make the layout when the directory is missing or empty. Default false: anything else is LAYOUT_INVALID. */
  create?: boolean
  logger?: Logger
}

/** Attempts at an index update whose lock another process broke (judging it stale) mid-way. */
const UPDATE_ATTEMPTS = 3

/**
 * An OCI image layout directory (image-spec image-layout.md): one blob store shared by every repository
 * view, and index.json. Readers need no lock (index.json is only ever replaced by rename); writers of
 * index.json take `index.json.lock`, so several ferry processes can share one directory.
 */
export class OciLayout {
  readonly dir: string
  private readonly logger: Logger

  private constructor(dir: string, logger: Logger) {
    this.dir = dir
    this.logger = logger
  }

  static async open(dir: string, opts: LayoutOptions = {}): Promise<OciLayout> {
    const abs = resolve(dir)
    await ensureLayout(abs, opts.create ?? false)
    return new OciLayout(abs, opts.logger ?? silentLogger)
  }

  private get indexPath(): string {
    return join(this.dir, INDEX_FILE)
  }

  /** `blobs/ALG/HEX`; the digest is validated first, so no input can name a path outside the layout. */
  blobPath(digest: Digest): string {
    const { algorithm, hex } = parseDigest(digest)
    return join(this.dir, BLOBS_DIR, algorithm, hex)
  }

  /** Takes a file whose content the caller has verified against `digest` into the blob store (a rename). */
  adoptBlob(file: string, blob: { digest: Digest; size: number }): Promise<void> {
    return adoptBlob(this.blobPath(blob.digest), file, blob)
  }

  async hasBlob(digest: Digest): Promise<boolean> {
    return (await fileSize(this.blobPath(digest))) !== undefined
  }

  async readIndex(): Promise<{ bytes: Uint8Array; index: ImageIndex }> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.indexPath)
    } catch (err) {
      if (errno(err) === 'ENOENT') {
        throw new FerryError(
          'LAYOUT_INVALID',
          `${this.indexPath}: missing; ${this.dir} is not an OCI image layout`,
        )
      }
      throw err
    }
    return { bytes, index: parseIndexBytes(bytes, this.indexPath) }
  }

  /**
   * Locked read-modify-write of index.json. `mutate` gets the current index and returns the index to
   * write, or undefined to leave the file as it is. It may run more than once, so it must be pure.
   */
  async updateIndex(mutate: (index: ImageIndex) => ImageIndex | undefined): Promise<void> {
    const lockPath = `${this.indexPath}.lock`
    for (let attempt = 1; ; attempt++) {
      const committed = await withLock(lockPath, { logger: this.logger }, async (held) => {
        const next = mutate((await this.readIndex()).index)
        if (next === undefined) return true
        const checked = imageIndexSchema.safeParse(next)
        if (!checked.success) {
          throw new FerryError('INTERNAL', `${this.indexPath}: refusing to write an invalid index`)
        }
        const temp = siblingTemp(this.indexPath)
        try {
          await writeNewFileSynced(temp, serializeIndex(checked.data))
          // A waiter that judged this lock stale may have broken it; then the update starts again.
          if (!(await held.stillHeld())) return false
          await rename(temp, this.indexPath)
        } finally {
          await unlink(temp).catch(() => {})
        }
        await fsyncDir(this.dir)
        return true
      })
      if (committed) return
      this.logger.warn(`${lockPath}: lock was broken by another process during an update; retrying`)
      if (attempt >= UPDATE_ATTEMPTS) {
        throw new FerryError(
          'CONFLICT',
          `${this.indexPath}: another process kept taking the lock; update not applied`,
        )
      }
    }
  }

  /**
   * Runs `fn` holding index.json's lock: no index update of this or another process that honours it
   * (every ferry writer of the layout) runs meanwhile. What a garbage collection sweeps under, so that no
   * tag lands on a manifest it has judged unreachable.
   */
  whileIndexLocked<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(`${this.indexPath}.lock`, { logger: this.logger }, () => fn())
  }

  target(repository?: string): LayoutTarget {
    return new LayoutTarget(this, repository)
  }

  /** Repository names present in index.json, sorted; the no-repository view has no name and is not listed. */
  async repositories(): Promise<string[]> {
    const names = new Set<string>()
    for (const entry of (await this.readIndex()).index.manifests) {
      const repository = entryRepository(entry)
      if (repository !== undefined) names.add(repository)
    }
    return [...names].sort()
  }
}

export async function openLayoutTarget(
  dir: string,
  opts: LayoutOptions & { repository?: string } = {},
): Promise<LayoutTarget> {
  const { repository, ...layoutOpts } = opts
  return (await OciLayout.open(dir, layoutOpts)).target(repository)
}
