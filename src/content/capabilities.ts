import type { Readable } from 'node:stream'
import type { Descriptor } from '../oci/schemas.js'
import type { OperationOptions, ReadOnlyTarget, Target } from './target.js'

/**
 * What only some backends can do, each its own interface and detected at run time by a type guard (as
 * regclient's optional scheme interfaces): an algorithm asks `canMount(t)` instead of a flag that
 * could disagree with the methods the backend actually has.
 */

/** A backend that can link a blob from another repository without moving bytes. */
export interface BlobMounter {
  /** Returns true when the blob was mounted; false when the backend fell back (the caller then pushes). */
  mountBlob(desc: Descriptor, from: ReadOnlyTarget, opts?: OperationOptions): Promise<boolean>
}

export const canMount = <T extends ReadOnlyTarget>(t: T): t is T & BlobMounter =>
  typeof (t as Partial<BlobMounter>).mountBlob === 'function'

/** A backend that can stream a blob from a byte offset without reading the prefix. */
export interface RangedBlobSource {
  /**
   * Bytes [offset, size) of the blob. Size-checked but not digest-checked (the prefix is never read):
   * whoever consumes it must have the whole verified elsewhere. From 0 it is the whole blob for a
   * consumer that hashes every byte itself (a copy's destination: every Target verifies what it stores),
   * so the bytes are not hashed twice. Fails when the backend cannot seek.
   */
  fetchBlobFrom(desc: Descriptor, offset: number, opts?: OperationOptions): Promise<Readable>
}

export const canReadFrom = <T extends ReadOnlyTarget>(t: T): t is T & RangedBlobSource =>
  typeof (t as Partial<RangedBlobSource>).fetchBlobFrom === 'function'

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
 * A backend whose uploads are sessions that outlive the process that opened them (a registry's
 * `/blobs/uploads/<id>`), so a later run can continue one instead of starting over.
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

export const canResumePush = <T extends Target>(t: T): t is T & ResumableBlobPush =>
  typeof (t as Partial<ResumableBlobPush>).resumeOffset === 'function' &&
  typeof (t as Partial<ResumableBlobPush>).pushBlobFrom === 'function'
