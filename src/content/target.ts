import type { Readable } from 'node:stream'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'

/**
 * The storage contract: what copy, bundle, import, serve, promote and retention are written against, so
 * that they work between any two backends (a registry repository, an OCI layout's repository view, a
 * bundle). Three roles that compose into a `Target`: content by descriptor, names, referrers.
 *
 * Every read verifies: manifests fetched by digest must hash to it, blob streams fail (error event, never
 * a clean end) when size or digest is wrong. Every write makes content visible only once it verified.
 * Every operation takes an `AbortSignal` (Ctrl-C, a deadline, a client that went away).
 */

export interface OperationOptions {
  signal?: AbortSignal
}

/** Content addressed by digest. "Has" means reachable from *this* repository or view, on every backend. */
export interface ContentStorage {
  /** For messages: `localhost:5000/team/app` or `oci:/path/to/dir`. */
  readonly name: string

  /** Tag or digest to the manifest's exact bytes and parsed view. */
  fetchManifest(reference: string, opts?: OperationOptions): Promise<Manifest>

  /** Blob content as a stream, verified against `desc.size` and `desc.digest` as it flows. */
  fetchBlob(desc: Descriptor, opts?: OperationOptions): Promise<Readable>

  hasBlob(desc: Descriptor, opts?: OperationOptions): Promise<boolean>

  /** Whether this repository (view) holds a manifest with this digest (HEAD on a registry). */
  hasManifest(digest: Digest, opts?: OperationOptions): Promise<boolean>

  /** Stores a blob from a stream; visible only after its size and digest verify. */
  pushBlob(desc: Descriptor, body: Readable, opts?: BlobPushOptions): Promise<void>

  /**
   * Stores a manifest's exact bytes by digest, and nothing else: no name, no referrers index. The
   * answer says whether the backend made the manifest findable as a referrer of its `subject` itself;
   * when it did not, the caller adds it (`ReferrerStore.addReferrer`; see store.ts).
   */
  pushManifest(manifest: Manifest, opts?: OperationOptions): Promise<PushedManifest>

  /** Removes a manifest by digest (and with it every tag pointing at it, on most registries). */
  deleteManifest(digest: Digest, opts?: OperationOptions): Promise<void>
}

export interface PushedManifest {
  /** The backend indexed the manifest's `subject` itself (referrers API, `OCI-Subject`, a layout entry). */
  subjectIndexed: boolean
}

/** A condition on the tag's current value; the write fails with CONFLICT when it does not hold. */
export type TagPrecondition =
  /** The tag must not exist yet (or already name this very manifest: the write is then a no-op). */
  | { ifAbsent: true }
  /** The tag must currently name `ifMatch` (an expected previous value, as read by a plan). */
  | { ifMatch: Digest }

export interface TagOptions extends OperationOptions {
  precondition?: TagPrecondition
}

export interface TagOutcome {
  /** What the tag named before, if anything. */
  previous?: Digest
  /** False when the tag already named this manifest and nothing was written. */
  changed: boolean
}

/**
 * Something a tag can be pointed at: a manifest's descriptor, with its exact bytes when the caller has
 * them (a registry needs the bytes to PUT under a tag; without them it reads them by digest first).
 */
export type Taggable = Descriptor | Manifest

export const hasBytes = (t: Taggable): t is Manifest => (t as Partial<Manifest>).bytes instanceof Uint8Array

export interface UntagOptions extends OperationOptions {
  /** Only untag when the tag still names this digest (a retention plan's view of it). */
  ifMatch?: Digest
}

/** Names: tags pointing at manifests. */
export interface NameStore {
  /** Tag or digest to the manifest's descriptor, as cheaply as the backend allows (HEAD on a registry). */
  resolve(reference: string, opts?: OperationOptions): Promise<Descriptor>

  /**
   * Points `name` at a manifest: one the store holds, or, given its bytes, one it stores now (nothing
   * about its `subject`: see store.ts). Atomic where `capabilities().conditionalWrites`
   * is true; elsewhere checked before and verified after the write (a concurrent writer between the two
   * is detected afterwards, as CONFLICT, not prevented).
   */
  tag(manifest: Taggable, name: string, opts?: TagOptions): Promise<TagOutcome>

  /**
   * Removes one name, leaving the manifest and its other names. Never leaves the tag pointing anywhere
   * else: a backend that cannot untag fails with UNSUPPORTED before it changes anything.
   */
  untag(name: string, opts?: UntagOptions): Promise<void>

  listTags(opts?: OperationOptions): Promise<string[]>
}

export interface ReferrersQuery extends OperationOptions {
  artifactType?: string
}

/**
 * How a store lists referrers: the OCI 1.1 API, the `sha256-HEX` tag-schema index it keeps on a
 * registry without the API, or its own index (a layout's index.json, a bundle's).
 */
export type ReferrersListing = 'api' | 'tag-schema' | 'index'

/** Manifests that name another as their `subject` (OCI 1.1 referrers), however the backend lists them. */
export interface ReferrerStore {
  /** Asked once per registry with a read (no DELETE probes, unlike `capabilities()`). */
  referrersListing(opts?: OperationOptions): Promise<ReferrersListing>

  /** Manifests whose `subject` is `digest`, optionally only those of one artifactType. */
  referrers(digest: Digest, opts?: ReferrersQuery): Promise<Descriptor[]>

  /**
   * Makes `referrer` (already stored) listed under `subject`. One serialised, verified read-modify-write
   * where the backend keeps the list itself (the `sha256-HEX` tag schema); a no-op where it indexes
   * subjects on its own.
   */
  addReferrer(subject: Digest, referrer: Descriptor, opts?: OperationOptions): Promise<void>

  /** Takes `referrer` out of `subject`'s list (the same read-modify-write); a no-op where it is not listed. */
  removeReferrer(subject: Digest, referrer: Digest, opts?: OperationOptions): Promise<void>
}

/**
 * What a backend can do, probed once (per registry: cached by the client) without writing anything.
 * Governance code asks before it acts, so that nothing is half-done on a backend that cannot finish it.
 */
export interface Capabilities {
  /** Lists referrers natively (OCI 1.1 API, a layout's index); false: the `sha256-HEX` tag schema. */
  referrersApi: boolean
  /** Links a blob from another repository of the same registry without moving bytes. */
  mount: boolean
  /** DELETE of a manifest by digest. */
  manifestDelete: boolean
  /** DELETE of a tag, leaving the manifest. */
  tagDelete: boolean
  /** Tag preconditions are enforced atomically by the backend, not checked then written. */
  conditionalWrites: boolean
  /** Blob reads from a byte offset. */
  rangedReads: boolean
  /** Uploads are sessions a later process can continue. */
  resumableUploads: boolean
  /** Refuses every write (a bundle). */
  readOnly: boolean
}

export interface Target extends ContentStorage, NameStore, ReferrerStore {
  capabilities(opts?: OperationOptions): Promise<Capabilities>
  /** Releases connections and file handles. */
  close(): Promise<void>
}

/** Optional capability: a backend that can link a blob from another repository without moving bytes. */
export interface BlobMounter {
  /** Returns true when the blob was mounted; false when the backend fell back (the caller then pushes). */
  mountBlob(desc: Descriptor, from: Target, opts?: OperationOptions): Promise<boolean>
}

export const canMount = (t: Target): t is Target & BlobMounter =>
  typeof (t as Partial<BlobMounter>).mountBlob === 'function'

/** Where a chunked upload stands: the session's absolute URL and the bytes the registry holds. */
export interface UploadSession {
  /** A capability (it may carry a session token in its query): never log it whole. */
  location: string
  offset: number
}

export interface BlobPushOptions extends OperationOptions {
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
  resumeOffset(
    desc: Descriptor,
    location: string,
    opts?: OperationOptions,
  ): Promise<UploadSession | undefined>
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
  fetchBlobFrom(desc: Descriptor, offset: number, opts?: OperationOptions): Promise<Readable>
}

export const canReadFrom = (t: Target): t is Target & RangedBlobSource =>
  typeof (t as Partial<RangedBlobSource>).fetchBlobFrom === 'function'
