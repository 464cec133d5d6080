import type { Readable } from 'node:stream'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'

/**
 * The storage contract: what copy, bundle, import, serve, promote and retention are written against, so
 * that they work between any two backends (a registry repository, an OCI layout's repository view, a
 * bundle, memory). Two interfaces, as oras-go's `ReadOnlyTarget`/`Target` (target.go): what a source
 * must answer, and the writes a destination adds. An algorithm asks for the narrower one when it only
 * reads, so a read-only backend (a bundle) implements no write at all. What only some backends can do
 * (mount, ranged reads, resumable uploads) is in capabilities.ts, detected by type guards.
 *
 * Every read verifies: manifests fetched by digest must hash to it, blob streams fail (error event, never
 * a clean end) when size or digest is wrong. Every write makes content visible only once it verified.
 * Every operation takes an `AbortSignal` (Ctrl-C, a deadline, a client that went away).
 */

export interface OperationOptions {
  signal?: AbortSignal
}

/** Reads: content by digest, names, referrers. */
export interface ReadOnlyTarget {
  /** For messages: `localhost:5000/team/app` or `oci:/path/to/dir`. */
  readonly name: string

  /** Tag or digest to the manifest's exact bytes and parsed view. */
  fetchManifest(reference: string, opts?: OperationOptions): Promise<Manifest>

  /** Blob content as a stream, verified against `desc.size` and `desc.digest` as it flows. */
  fetchBlob(desc: Descriptor, opts?: OperationOptions): Promise<Readable>

  /** "Has" means reachable from *this* repository or view, on every backend. */
  hasBlob(desc: Descriptor, opts?: OperationOptions): Promise<boolean>

  /** Whether this repository (view) holds a manifest with this digest (HEAD on a registry). */
  hasManifest(digest: Digest, opts?: OperationOptions): Promise<boolean>

  /** Tag or digest to the manifest's descriptor, as cheaply as the backend allows (HEAD on a registry). */
  resolve(reference: string, opts?: OperationOptions): Promise<Descriptor>

  listTags(opts?: OperationOptions): Promise<string[]>

  /** Manifests whose `subject` is `digest`, optionally only those of one artifactType. */
  referrers(digest: Digest, opts?: ReferrersQuery): Promise<Descriptor[]>

  /** How this store lists referrers; asked once per registry with a read. */
  referrersListing(opts?: OperationOptions): Promise<ReferrersListing>

  /** Releases connections and file handles. */
  close(): Promise<void>
}

/** A store that is written to: a copy's destination, what promote, attach and retention change. */
export interface Target extends ReadOnlyTarget {
  /** Stores a blob from a stream; visible only after its size and digest verify. */
  pushBlob(desc: Descriptor, body: Readable, opts?: OperationOptions): Promise<void>

  /**
   * Stores a manifest's exact bytes by digest, and nothing else: no name, no referrers index. The
   * answer says whether the backend made the manifest findable as a referrer of its `subject` itself;
   * when it did not, the caller adds it (`addReferrer`; see store.ts).
   */
  pushManifest(manifest: Manifest, opts?: OperationOptions): Promise<PushedManifest>

  /** Removes a manifest by digest (and with it every tag pointing at it, on most registries). */
  deleteManifest(digest: Digest, opts?: OperationOptions): Promise<void>

  /**
   * Points `name` at a manifest: one the store holds, or, given its bytes, one it stores now (nothing
   * about its `subject`: see store.ts). Atomic on a layout and in memory; on a registry checked
   * before and verified after the write (a concurrent writer between the two is detected afterwards, as
   * CONFLICT, not prevented).
   */
  tag(manifest: Taggable, name: string, opts?: TagOptions): Promise<TagOutcome>

  /**
   * Removes one name, leaving the manifest and its other names. Never leaves the tag pointing anywhere
   * else: a backend that cannot untag fails with UNSUPPORTED before it changes anything.
   */
  untag(name: string, opts?: UntagOptions): Promise<void>

  /**
   * Makes `referrer` (already stored) listed under `subject`. One serialised, verified read-modify-write
   * where the backend keeps the list itself (the `sha256-HEX` tag schema); a no-op where it indexes
   * subjects on its own.
   */
  addReferrer(subject: Digest, referrer: Descriptor, opts?: OperationOptions): Promise<void>

  /** Takes `referrer` out of `subject`'s list (the same read-modify-write); a no-op where it is not listed. */
  removeReferrer(subject: Digest, referrer: Digest, opts?: OperationOptions): Promise<void>

  /**
   * Which deletes the backend allows, learned without writing anything (per registry: probed once and
   * cached by the client). Governance code asks before it acts, so that nothing is half-done on a
   * backend that cannot finish it.
   */
  deletes(opts?: OperationOptions): Promise<DeleteSupport>
}

export interface PushedManifest {
  /** The backend indexed the manifest's `subject` itself (referrers API, `OCI-Subject`, a layout entry). */
  subjectIndexed: boolean
}

export interface DeleteSupport {
  /** DELETE of a manifest by digest. */
  manifest: boolean
  /** DELETE of a tag, leaving the manifest. */
  tag: boolean
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

export interface ReferrersQuery extends OperationOptions {
  artifactType?: string
}

/**
 * How a store lists referrers: the OCI 1.1 API, the `sha256-HEX` tag-schema index it keeps on a
 * registry without the API, or its own index (a layout's index.json, a bundle's, memory).
 */
export type ReferrersListing = 'api' | 'tag-schema' | 'index'
