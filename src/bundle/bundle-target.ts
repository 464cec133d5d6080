import type { Readable } from 'node:stream'
import type { RangedBlobSource } from '../content/capabilities.js'
import type { ReadOnlyTarget, ReferrersListing } from '../content/target.js'
import { FerryError } from '../errors.js'
import { entryDescriptor } from '../layout/entries.js'
import { entryTag, inView, refNameFor, refNameOf } from '../layout/naming.js'
import { findReferrers, type SubjectCache } from '../layout/referrers.js'
import { descriptorOf } from '../oci/descriptor.js'
import { type Digest, parseDigest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { isDigestReference } from '../reference/grammar.js'
import type { BundleReader } from './reader.js'

/**
 * One repository view of a verified bundle as a `ReadOnlyTarget` and a `RangedBlobSource` (tags and
 * referrers as an OCI layout's repository view has them), so copy, import and serve read a bundle as
 * they read a registry. It has no writes at all: a bundle is evidence, it does not change.
 */
export class BundleTarget implements ReadOnlyTarget, RangedBlobSource {
  readonly name: string
  private readonly subjects: SubjectCache = new Map()

  constructor(
    private readonly bundle: BundleReader,
    readonly repository: string | undefined,
  ) {
    this.name = repository === undefined ? bundle.name : `${bundle.name}:${repository}`
  }

  private entries(): Descriptor[] {
    return this.bundle.index.manifests.filter((e) => inView(e, this.repository))
  }

  private tagged(tag: string): Descriptor {
    const refName = this.repository === undefined ? tag : refNameFor(this.repository, tag)
    const entry = this.bundle.index.manifests.find((e) => refNameOf(e) === refName)
    if (!entry) throw new FerryError('NOT_FOUND', `${this.name}: tag "${tag}" not found in the bundle`)
    return entry
  }

  async resolve(reference: string): Promise<Descriptor> {
    if (isDigestReference(reference))
      return descriptorOf(await this.fetchManifest(reference), { artifactType: 'own' })
    return entryDescriptor(this.tagged(reference))
  }

  async fetchManifest(reference: string): Promise<Manifest> {
    if (isDigestReference(reference)) {
      const { digest } = parseDigest(reference)
      return this.bundle.readManifest(digest, undefined, `${this.name}@${digest}`)
    }
    const entry = this.tagged(reference)
    return this.bundle.readManifest(entry.digest as Digest, entry.mediaType, `${this.name}:${reference}`)
  }

  async fetchBlob(desc: Descriptor): Promise<Readable> {
    return this.bundle.readBlob(desc, this.name)
  }

  /** Bytes [offset, size) of a blob, for an upload that continues where an interrupted one stopped. */
  async fetchBlobFrom(desc: Descriptor, offset: number): Promise<Readable> {
    return this.bundle.readBlobFrom(desc, offset, this.name)
  }

  async hasBlob(desc: Descriptor): Promise<boolean> {
    return this.bundle.location(desc.digest)?.size === desc.size
  }

  async hasManifest(digest: Digest): Promise<boolean> {
    return this.bundle.has(digest)
  }

  async referrersListing(): Promise<ReferrersListing> {
    return 'index'
  }

  async listTags(): Promise<string[]> {
    const tags = new Set<string>()
    for (const e of this.bundle.index.manifests) {
      const tag = entryTag(e, this.repository)
      if (tag !== undefined) tags.add(tag)
    }
    return [...tags].sort()
  }

  async referrers(digest: Digest, opts: { artifactType?: string } = {}): Promise<Descriptor[]> {
    parseDigest(digest)
    const load = (d: Digest, mediaType: string) => this.bundle.readManifest(d, mediaType, `${this.name}@${d}`)
    return findReferrers(this.entries(), digest, load, this.subjects, opts.artifactType)
  }

  /** The bundle's file handles belong to the BundleReader; close that. */
  async close(): Promise<void> {}
}
