import type { Readable } from 'node:stream'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'

/**
 * One repository's worth of content: a repository on a registry, or an OCI image layout directory.
 * copy, bundle, import and serve are written once against this interface, so they work between any two.
 *
 * Every method that reads verifies: manifests fetched by digest must hash to it, blob streams fail
 * (error event, never a clean end) when size or digest is wrong. Every method that writes makes content
 * visible only once it is verified.
 */
export interface Target {
  /** For messages: `localhost:5000/team/app` or `oci:/path/to/dir`. */
  readonly name: string

  /** Tag or digest to the manifest's descriptor, as cheaply as the backend allows (HEAD on a registry). */
  resolve(reference: string): Promise<Descriptor>

  /** Tag or digest to the manifest's exact bytes and parsed view. */
  fetchManifest(reference: string): Promise<Manifest>

  /** Blob content as a stream, verified against `desc.size` and `desc.digest` as it flows. */
  fetchBlob(desc: Descriptor): Promise<Readable>

  hasBlob(desc: Descriptor): Promise<boolean>

  /** Whether a manifest with this digest is present (HEAD on a registry). */
  hasManifest(digest: Digest): Promise<boolean>

  /** Stores a blob from a stream; visible only after its size and digest verify. */
  pushBlob(desc: Descriptor, body: Readable): Promise<void>

  /**
   * Stores a manifest's exact bytes, by digest only or also under `tag`. When the manifest has a
   * `subject`, the backend also makes it discoverable through `referrers()` (referrers API, or the
   * `sha256-HEX` tag schema where the registry lacks it).
   */
  pushManifest(manifest: Manifest, tag?: string): Promise<void>

  listTags(): Promise<string[]>

  /** Manifests whose `subject` is `digest`, optionally only those of one artifactType. */
  referrers(digest: Digest, opts?: { artifactType?: string }): Promise<Descriptor[]>

  /** Removes a manifest by digest (and with it every tag pointing at it on most registries). */
  deleteManifest(digest: Digest): Promise<void>

  /** Removes one tag, leaving the manifest when the backend can; not all registries can. */
  deleteTag(tag: string): Promise<void>

  /** Releases connections and file handles. */
  close(): Promise<void>
}

/** Optional capability: a backend that can link a blob from another repository without moving bytes. */
export interface BlobMounter {
  /** Returns true when the blob was mounted; false when the backend fell back (the caller then pushes). */
  mountBlob(desc: Descriptor, from: Target): Promise<boolean>
}

export const canMount = (t: Target): t is Target & BlobMounter =>
  typeof (t as Partial<BlobMounter>).mountBlob === 'function'

/** Where a chunked upload stands: the session's absolute URL and the bytes the registry holds. */
export interface UploadSession {
  /** A capability (it may carry a session token in its query): never log it whole. */
  location: string
  offset: number
}

export interface BlobPushOptions {
  /** Called when the session opens and after every acknowledged chunk; large (chunked) uploads only. */
  onSession?: (session: UploadSession) => void
  /**
   * The blob's bytes again from `offset` on (a ranged read of the source). With it, an upload whose
   * connection dies mid-chunk continues where the registry stopped instead of failing.
   */
  reopen?: (offset: number) => Promise<Readable>
}

/**
 * Optional capability: a backend whose uploads are sessions that outlive the process that opened them
 * (a registry's `/blobs/uploads/<id>`), so a later run can continue one instead of starting over.
 */
export interface ResumableBlobPush {
  pushBlob(desc: Descriptor, body: Readable, opts?: BlobPushOptions): Promise<void>
  /** What the registry holds for the session at `location`; undefined when the session is gone. */
  resumeOffset(desc: Descriptor, location: string): Promise<UploadSession | undefined>
  /** Continues the session from `offset` with a body holding bytes [offset, size), then commits. */
  pushBlobFrom(
    desc: Descriptor,
    location: string,
    offset: number,
    body: Readable,
    opts?: BlobPushOptions,
  ): Promise<void>
}

export const canResumePush = (t: Target): t is Target & ResumableBlobPush =>
  typeof (t as Partial<ResumableBlobPush>).resumeOffset === 'function' &&
  typeof (t as Partial<ResumableBlobPush>).pushBlobFrom === 'function'

/** Optional capability: a backend that can stream a blob from a byte offset without reading the prefix. */
export interface RangedBlobSource {
  /**
   * Bytes [offset, size) of the blob. Size-checked but not digest-checked (the prefix is never read):
   * whoever consumes it must have the whole verified elsewhere. Fails when the backend cannot seek.
   */
  fetchBlobFrom(desc: Descriptor, offset: number): Promise<Readable>
}

export const canReadFrom = (t: Target): t is Target & RangedBlobSource =>
  typeof (t as Partial<RangedBlobSource>).fetchBlobFrom === 'function'
