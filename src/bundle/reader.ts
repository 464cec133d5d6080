import type { Stats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { pipeline, type Readable } from 'node:stream'
import { FerryError } from '../errors.js'
import { parseIndexBytes } from '../layout/layout-files.js'
import { entryRepository } from '../layout/naming.js'
import { type Digest, digestOf, verifyingStream } from '../oci/digest.js'
import { MAX_MANIFEST_BYTES, type Manifest, parseManifest } from '../oci/manifest.js'
import { type Descriptor, type ImageIndex, ociLayoutFileSchema } from '../oci/schemas.js'
import type { ProgressSink } from '../progress.js'
import type { KeySet } from '../sign/key-set.js'
import type { SignatureKey } from '../sign/trust.js'
import { BundleTarget } from './bundle-target.js'
import { checkConsistency } from './consistency.js'
import { type BundleMetadata, INDEX_NAME, METADATA_NAME, OCI_LAYOUT_NAME, SIGNATURE_NAME } from './format.js'
import { checkNames, requireSignedNames } from './names.js'
import { type BlobLocation, parseJsonFile, type ScannedBundle, scanBundle } from './scan.js'
import { metadataSignature, type SignatureState } from './signature.js'
import { type BundleSource, openBundleSource } from './source.js'

export { BundleTarget } from './bundle-target.js'

export interface OpenBundleOptions {
  /**
   * Check ferry-bundle.json.sig with these keys, by the trust decision (a revoked or expired key fails);
   * without them, a signature is reported but not checked.
   */
  keys?: KeySet
  /** The verifying pass: `start` with the file's size, then the blob bytes as they are hashed (phase `verify`). */
  progress?: ProgressSink
}

/** What a bundle file looked like when the verifying pass began; a different stamp means other bytes. */
export interface FileStamp {
  path: string
  dev: number
  ino: number
  size: number
  mtimeMs: number
}

const stampOf = (path: string, st: Stats): FileStamp => ({
  path,
  dev: st.dev,
  ino: st.ino,
  size: st.size,
  mtimeMs: st.mtimeMs,
})

/**
 * Whether `st` is still the file `stamp` describes (same inode, size and modification time). The reader
 * holds the file open, so even a file system that makes inode numbers up as it loads them (vfat, exFAT on
 * a USB disk) keeps this one's stable.
 */
export const sameFile = (stamp: FileStamp, st: Stats): boolean =>
  st.dev === stamp.dev && st.ino === stamp.ino && st.size === stamp.size && st.mtimeMs === stamp.mtimeMs

/**
 * A bundle file opened for reading. `open` makes one streaming pass that verifies every blob's size and
 * digest and records where each body lies, then checks the signature (when a key is given) and that
 * index.json, the manifests and ferry-bundle.json agree. Only a bundle that passed all of that is handed
 * out; afterwards blobs are read from their offsets, verified again as they stream (the file could
 * change underneath).
 */
export class BundleReader {
  readonly signature: SignatureState
  /** The key ferry-bundle.json.sig verified with, when keys were given. */
  readonly signer?: SignatureKey

  private constructor(
    private readonly source: BundleSource,
    readonly metadata: BundleMetadata,
    readonly index: ImageIndex,
    private readonly blobs: Map<Digest, BlobLocation>,
    readonly signed: boolean,
    signature: { state: SignatureState; key?: SignatureKey },
    /** The bundle file, or each part of a split bundle, as it was before the verifying pass read it. */
    readonly stamps: readonly FileStamp[],
    /** sha256 of the exact ferry-bundle.json bytes (what the signature covers): names this bundle. */
    readonly metadataDigest: Digest,
  ) {
    this.signature = signature.state
    if (signature.key) this.signer = signature.key
  }

  get name(): string {
    return this.source.name
  }

  get parts(): readonly string[] | undefined {
    return this.source.parts
  }

  static async open(path: string, opts: OpenBundleOptions = {}): Promise<BundleReader> {
    const source = await openBundleSource(path)
    try {
      // Taken before the pass, so that a write during it shows as a change afterwards.
      const files = source.parts ?? [path]
      const stamps = await Promise.all(files.map(async (f) => stampOf(f, await stat(f))))
      const subject = source.name
      opts.progress?.({ type: 'start', phase: 'verify', subject, unit: 'bytes', total: source.size })
      const scanned = await scanBundle(source, { mode: 'verify', progress: opts.progress, subject })
      const { index, signed } = checkLayoutFiles(scanned, source.name)
      if (opts.keys) requireSignedNames(source.name, scanned.metadata)
      const metadataBytes = scanned.files.get(METADATA_NAME)!
      const state = metadataSignature(
        source.name,
        metadataBytes,
        scanned.files.get(SIGNATURE_NAME),
        opts.keys,
      )
      const reader = new BundleReader(
        source,
        scanned.metadata,
        index,
        scanned.blobs,
        signed,
        state,
        stamps,
        digestOf(metadataBytes),
      )
      const problems = await checkConsistency(reader)
      if (problems.length > 0) {
        const more = problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''
        throw new FerryError('VERIFY_FAILED', `${source.name}: ${problems[0]}${more}`)
      }
      return reader
    } catch (err) {
      await source.close()
      throw err
    }
  }

  /** Whether the bundle holds this blob or manifest (a delta omits some blobs). */
  has(digest: string): boolean {
    return this.blobs.has(digest as Digest)
  }

  location(digest: string): BlobLocation | undefined {
    return this.blobs.get(digest as Digest)
  }

  /**
   * The file and byte range holding a blob's body, for readers that open the file themselves (a server
   * sending it with its own buffers). Only for a bundle in one file: a split bundle's blob may straddle
   * two parts, and is read through `readBlob`/`readBlobFrom`.
   */
  blobLocation(digest: string): { path: string; offset: number; size: number } | undefined {
    const loc = this.blobs.get(digest as Digest)
    if (!loc || this.source.parts) return undefined
    return { path: this.stamps[0]!.path, offset: loc.offset, size: loc.size }
  }

  /** The first bundle file that is not the one verified (replaced, rewritten or resized); undefined: none. */
  async changedFile(): Promise<string | undefined> {
    for (const stamp of this.stamps) {
      const st = await stat(stamp.path).catch(() => undefined)
      if (!st || !sameFile(stamp, st)) return stamp.path
    }
    return undefined
  }

  /** The blob's bytes as a stream, failing (never ending cleanly) unless they match `desc`. */
  readBlob(desc: Descriptor, subject: string): Readable {
    const loc = this.blobs.get(desc.digest as Digest)
    if (!loc) throw new FerryError('NOT_FOUND', `${subject}: blob ${desc.digest} is not in the bundle`)
    if (loc.size !== desc.size) {
      throw new FerryError(
        'SIZE_INVALID',
        `${subject}: blob ${desc.digest} is ${loc.size} bytes in the bundle, the descriptor says ${desc.size}`,
      )
    }
    const verifier = verifyingStream({
      digest: desc.digest,
      size: desc.size,
      subject: `${subject}@${desc.digest}`,
    })
    return pipeline(this.source.range(loc.offset, loc.offset + loc.size), verifier, () => {})
  }

  /**
   * Bytes [offset, size) of a blob, size-checked only (the prefix is not read, so the digest cannot be):
   * the destination verifies the whole, and the verifying pass already proved these bytes.
   */
  readBlobFrom(desc: Descriptor, offset: number, subject: string): Readable {
    const loc = this.blobs.get(desc.digest as Digest)
    if (!loc) throw new FerryError('NOT_FOUND', `${subject}: blob ${desc.digest} is not in the bundle`)
    if (loc.size !== desc.size || offset < 0 || offset > loc.size) {
      throw new FerryError(
        'SIZE_INVALID',
        `${subject}: cannot read blob ${desc.digest} from byte ${offset} of ${loc.size}`,
      )
    }
    return this.source.range(loc.offset + offset, loc.offset + loc.size)
  }

  async readManifest(digest: Digest, contentType: string | undefined, subject: string): Promise<Manifest> {
    const loc = this.blobs.get(digest)
    if (!loc) throw new FerryError('NOT_FOUND', `${subject}: manifest ${digest} is not in the bundle`)
    if (loc.size > MAX_MANIFEST_BYTES) {
      throw new FerryError(
        'MANIFEST_TOO_LARGE',
        `${subject}: blob ${digest} is ${loc.size} bytes, over the manifest limit`,
      )
    }
    const bytes = await this.source.readAt(loc.offset, loc.size)
    return parseManifest(bytes, { expectedDigest: digest, contentType, subject })
  }

  /** Repository views present in index.json (source repositories such as `docker.io/library/postgres`). */
  repositories(): string[] {
    const names = new Set<string>()
    for (const e of this.index.manifests) {
      const r = entryRepository(e)
      if (r !== undefined) names.add(r)
    }
    return [...names].sort()
  }

  /** A ReadOnlyTarget over one repository view (undefined: entries without a repository). */
  target(repository: string | undefined): BundleTarget {
    return new BundleTarget(this, repository)
  }

  async close(): Promise<void> {
    await this.source.close()
  }
}

/** ferry-bundle.json, index.json and the signature from the front of the tar, without reading blobs. */
export async function readBundleMetadata(path: string): Promise<{
  name: string
  metadata: BundleMetadata
  metadataBytes: Buffer
  index: ImageIndex
  signed: boolean
  signature?: Buffer
  parts?: readonly string[]
  size: number
}> {
  const source = await openBundleSource(path)
  try {
    const scanned = await scanBundle(source, { mode: 'metadata' })
    const { index, signed } = checkLayoutFiles(scanned, source.name)
    return {
      name: source.name,
      metadata: scanned.metadata,
      metadataBytes: scanned.files.get(METADATA_NAME)!,
      index,
      signed,
      ...(signed ? { signature: scanned.files.get(SIGNATURE_NAME)! } : {}),
      parts: source.parts,
      size: source.size,
    }
  } finally {
    await source.close()
  }
}

function checkLayoutFiles(scanned: ScannedBundle, archive: string): { index: ImageIndex; signed: boolean } {
  const header = parseJsonFile(
    scanned.files.get(OCI_LAYOUT_NAME)!,
    OCI_LAYOUT_NAME,
    archive,
    ociLayoutFileSchema,
  )
  if (!/^1\.\d+\.\d+$/.test(header.imageLayoutVersion)) {
    throw new FerryError(
      'VERIFY_FAILED',
      `${archive}: unsupported imageLayoutVersion "${header.imageLayoutVersion}"`,
    )
  }
  let index: ImageIndex
  const indexBytes = scanned.files.get(INDEX_NAME)!
  try {
    index = parseIndexBytes(indexBytes, `${archive}: ${INDEX_NAME}`)
  } catch (err) {
    throw new FerryError('VERIFY_FAILED', (err as Error).message)
  }
  checkNames(archive, scanned.metadata, indexBytes)
  return { index, signed: scanned.files.has(SIGNATURE_NAME) }
}
