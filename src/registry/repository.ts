import type { Readable } from 'node:stream'
import { z } from 'zod'
import type {
  BlobMounter,
  BlobPushOptions,
  RangedBlobSource,
  ResumableBlobPush,
  UploadSession,
} from '../content/capabilities.js'
import type {
  DeleteSupport,
  OperationOptions,
  PushedManifest,
  ReadOnlyTarget,
  ReferrersListing,
  ReferrersQuery,
  Taggable,
  TagOptions,
  TagOutcome,
  Target,
  UntagOptions,
} from '../content/target.js'
import { hasBytes } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { type Manifest, subjectOf } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { fetchBlob, fetchBlobFrom, hasBlob } from './blobs.js'
import { cached, pullScope, type RepoContext, v2Url, wholeUploadMax } from './context.js'
import { probeDeletes } from './deletes.js'
import { apiHost } from './hosts.js'
import { deleteManifestRef, fetchManifest, headManifest, pushManifest, resolveManifest } from './manifests.js'
import { mountBlob } from './mount.js'
import { tagManifest, untagManifest } from './names.js'
import { readPages } from './pagination.js'
import { listReferrers, probeReferrersApi, updateTagIndex } from './referrers.js'
import { pushBlob, pushBlobFrom, resumeOffset } from './upload.js'

const tagListSchema = z.looseObject({ tags: z.array(z.string()).nullish() })

/** One repository on a registry, as a `Target`. Connections belong to the client that made it. */
export class RegistryRepository implements Target, BlobMounter, ResumableBlobPush, RangedBlobSource {
  readonly registry: string
  readonly repository: string
  readonly name: string

  /** @internal use `RegistryClient.repository()` */
  constructor(private readonly ctx: RepoContext) {
    this.registry = ctx.registry
    this.repository = ctx.repository
    this.name = ctx.name
  }

  /** The context for one operation: its requests are cancelled when `opts.signal` fires. */
  private at(opts?: OperationOptions): RepoContext {
    const signal = opts?.signal
    return signal ? { ...this.ctx, http: this.ctx.http.withSignal(signal) } : this.ctx
  }

  resolve(reference: string, opts?: OperationOptions): Promise<Descriptor> {
    return resolveManifest(this.at(opts), reference)
  }

  fetchManifest(reference: string, opts?: OperationOptions): Promise<Manifest> {
    return fetchManifest(this.at(opts), reference)
  }

  fetchBlob(desc: Descriptor, opts?: OperationOptions): Promise<Readable> {
    return fetchBlob(this.at(opts), desc)
  }

  /** Answered without a request when this client already knows (blob-knowledge.ts). */
  async hasBlob(desc: Descriptor, opts?: OperationOptions): Promise<boolean> {
    const { blobs } = this.ctx.shared
    const known = blobs.has(this.registry, this.repository, desc.digest, desc.size, wholeUploadMax(this.ctx))
    if (known !== undefined) return known
    const present = await hasBlob(this.at(opts), desc)
    if (present) blobs.seen(this.registry, this.repository, desc.digest)
    return present
  }

  /**
   * The caller found this repository without any tag at the start of its run (sync lists it once): its
   * small blobs are then uploaded without a HEAD each. Large ones are still asked for, since a run that
   * died may have left them.
   */
  knownEmpty(): void {
    this.ctx.shared.blobs.markEmpty(this.registry, this.repository)
  }

  async hasManifest(digest: Digest, opts?: OperationOptions): Promise<boolean> {
    return (await headManifest(this.at(opts), digest)) !== undefined
  }

  /** Blobs over the chunk size go in PATCH chunks; `onSession` follows that session for a later resume. */
  async pushBlob(desc: Descriptor, body: Readable, opts?: BlobPushOptions): Promise<void> {
    await pushBlob(this.at(opts), desc, body, opts)
    this.ctx.shared.blobs.seen(this.registry, this.repository, desc.digest)
  }

  /** GET on the upload session: its offset and current URL, or undefined when the registry dropped it. */
  resumeOffset(
    desc: Descriptor,
    location: string,
    opts?: OperationOptions,
  ): Promise<UploadSession | undefined> {
    return resumeOffset(this.at(opts), desc, location)
  }

  /** Continues a session from `offset`; the registry checks the digest of the whole at the commit. */
  async pushBlobFrom(
    desc: Descriptor,
    location: string,
    offset: number,
    body: Readable,
    opts?: BlobPushOptions,
  ): Promise<void> {
    await pushBlobFrom(this.at(opts), desc, location, offset, body, opts)
    this.ctx.shared.blobs.seen(this.registry, this.repository, desc.digest)
  }

  /** `Range: bytes=offset-`; refused (UNSUPPORTED) when the registry does not answer 206. */
  fetchBlobFrom(desc: Descriptor, offset: number, opts?: OperationOptions): Promise<Readable> {
    return fetchBlobFrom(this.at(opts), desc, offset)
  }

  /**
   * Mounts only between repositories of the same registry: from `from` when it is one, else from another
   * repository this client saw holding the blob (an earlier image of the same sync run). Anything else
   * is the caller's upload.
   */
  async mountBlob(desc: Descriptor, from: ReadOnlyTarget, opts?: OperationOptions): Promise<boolean> {
    const sameRegistry =
      from instanceof RegistryRepository && apiHost(from.registry) === apiHost(this.registry)
    const home = sameRegistry
      ? from.repository
      : this.ctx.shared.blobs.home(this.registry, desc.digest, this.repository)
    if (!home) return false
    if (home === this.repository) return this.hasBlob(desc, opts)
    const mounted = await mountBlob(this.at(opts), desc, home)
    if (mounted) this.ctx.shared.blobs.seen(this.registry, this.repository, desc.digest)
    return mounted
  }

  /**
   * PUT by digest. With a `subject`, the registry indexed it when it answers `OCI-Subject` or serves the
   * referrers API; otherwise the caller maintains the tag-schema index (`addReferrer`).
   */
  async pushManifest(manifest: Manifest, opts?: OperationOptions): Promise<PushedManifest> {
    const { ociSubject } = await pushManifest(this.at(opts), manifest)
    if (!subjectOf(manifest) || ociSubject) return { subjectIndexed: true }
    return { subjectIndexed: await this.referrersSupport() }
  }

  /** Needs the manifest's bytes: a bare descriptor is read by digest from this repository first. */
  async tag(manifest: Taggable, name: string, opts: TagOptions = {}): Promise<TagOutcome> {
    const m = hasBytes(manifest) ? manifest : await this.fetchManifest(manifest.digest, opts)
    return tagManifest(this.at(opts), m, name, opts)
  }

  async untag(name: string, opts: UntagOptions = {}): Promise<void> {
    return untagManifest(this.at(opts), name, await this.deletes(), opts)
  }

  deletes(): Promise<DeleteSupport> {
    return cached(this.ctx.shared.deletes, this.ctx.registry, () => probeDeletes(this.ctx))
  }

  listTags(opts: { pageSize?: number; signal?: AbortSignal } = {}): Promise<string[]> {
    const url = v2Url(this.ctx, 'tags/list')
    if (opts.pageSize) url.searchParams.set('n', String(opts.pageSize))
    return readPages(
      this.at(opts).http,
      { registry: this.registry, url, scopes: pullScope(this.repository), subject: this.name },
      tagListSchema,
      (doc) => doc.tags ?? [],
    )
  }

  referrers(digest: Digest, opts: ReferrersQuery = {}): Promise<Descriptor[]> {
    return listReferrers(this.at(opts), digest, opts.artifactType)
  }

  async referrersListing(): Promise<ReferrersListing> {
    return (await this.referrersSupport()) ? 'api' : 'tag-schema'
  }

  /** Whether the registry serves the referrers API; asked once per registry. */
  referrersSupport(): Promise<boolean> {
    return cached(this.ctx.shared.referrersApi, this.ctx.registry, () => probeReferrersApi(this.ctx))
  }

  /** The tag-schema index is the list where the registry has no API; with the API it lists on its own. */
  async addReferrer(subject: Digest, referrer: Descriptor, opts?: OperationOptions): Promise<void> {
    if (await this.referrersSupport()) return
    await updateTagIndex(this.at(opts), subject, (list) =>
      list.some((d) => d.digest === referrer.digest) ? undefined : [...list, referrer],
    )
  }

  async removeReferrer(subject: Digest, referrer: Digest, opts?: OperationOptions): Promise<void> {
    if (await this.referrersSupport()) return
    await updateTagIndex(this.at(opts), subject, (list) =>
      list.some((d) => d.digest === referrer) ? list.filter((d) => d.digest !== referrer) : undefined,
    )
  }

  /**
   * Deletes by digest. A deleted referrer is also taken out of its subject's tag-schema index (spec,
   * "Deleting Manifests"), so listings never name a manifest that is gone.
   */
  async deleteManifest(digest: Digest, opts?: OperationOptions): Promise<void> {
    let subject: Descriptor | undefined
    if (!(await this.referrersSupport())) {
      try {
        subject = subjectOf(await this.fetchManifest(digest, opts))
      } catch (err) {
        // Unreadable here (absent, or a kind we do not parse): the DELETE below reports what matters.
        if (!(err instanceof FerryError)) throw err
      }
    }
    await deleteManifestRef(this.at(opts), digest)
    if (subject) await this.removeReferrer(subject.digest as Digest, digest, opts)
  }

  /** Connections are the client's (`RegistryClient.close()`); a repository holds nothing of its own. */
  async close(): Promise<void> {}
}
