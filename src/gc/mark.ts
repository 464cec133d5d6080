import { isFerryError } from '../errors.js'
import { GraphReader, walkGraph } from '../graph/index.js'
import type { OciLayout } from '../layout/index.js'
import { type Digest, isDigest } from '../oci/digest.js'
import { MAX_MANIFEST_BYTES, type Manifest, subjectOf } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'

/**
 * What a layout still needs, marked through the graph walk every copy and bundle uses (graph/): from
 * every index.json entry (every tag of every repository, and every manifest pushed by digest: platform
 * images, referrers, cosign's `sha256-HEX.sig|.att|.sbom` tags and the referrers tag schema's `sha256-HEX`
 * index are all entries), each manifest's index children and blobs, recursively. Then the referrers no
 * entry names (a manifest whose `subject` is reachable: an SBOM only a fallback index listed, after that
 * index went), again until nothing new is reached.
 */
export class Marks {
  /** Manifest digests reached (their files are blobs too). */
  readonly manifests = new Set<string>()
  /** Config and layer digests reached. */
  readonly blobs = new Set<string>()
  /** Child manifests an index names and the layout does not have: nothing is reachable through them. */
  readonly missing = new Set<string>()
  /** What each file this collection read is: a manifest with its subject (or null), or not a manifest. */
  private readonly read = new Map<string, { subject: string | null } | 'not-a-manifest'>()
  private readonly reader: GraphReader

  constructor(private readonly layout: OciLayout) {
    this.reader = new GraphReader(layout.target())
  }

  has(digest: string): boolean {
    return this.manifests.has(digest) || this.blobs.has(digest)
  }

  /** Marks from index.json as it is now; called again (cheaply: manifests are read once) before the sweep. */
  async fromEntries(): Promise<void> {
    const entries = (await this.layout.readIndex()).index.manifests
    for (const entry of entries) await this.fromRoot(entry)
  }

  /**
   * Marks the referrers of reached manifests among `candidates` (files nothing reached so far), until a
   * pass reaches nothing new: a signature on an SBOM that is itself only a referrer.
   */
  async referrersAmong(candidates: readonly { digest: string; size: number }[]): Promise<void> {
    for (;;) {
      let reached = false
      for (const c of candidates) {
        if (this.has(c.digest)) continue
        const subject = await this.subjectOf(c)
        if (subject && this.manifests.has(subject)) {
          await this.fromRoot({ digest: c.digest as Digest, mediaType: '', size: c.size })
          reached = true
        }
      }
      if (!reached) return
    }
  }

  /** Whether a file this collection read is a manifest (for the report: manifest or blob). */
  isManifest(digest: string): boolean {
    const r = this.read.get(digest)
    return r !== undefined && r !== 'not-a-manifest'
  }

  private async fromRoot(root: Descriptor): Promise<void> {
    if (this.manifests.has(root.digest) || !isDigest(root.digest)) return
    const manifest = await this.manifest(root.digest)
    if (!manifest) {
      // An entry whose manifest is missing (a layout copied without it) reaches nothing.
      this.missing.add(root.digest)
      return
    }
    const graph = await walkGraph(this.reader, manifest, {
      includeNondistributable: true,
      // Absent reaches nothing; a manifest that is there but unreadable fails the collection (as a root's does).
      onMissing: (child, _from, { error }) => {
        if (!isFerryError(error, 'NOT_FOUND')) throw error
        this.missing.add(child.digest)
      },
    })
    for (const m of graph.manifests) {
      this.manifests.add(m.digest)
      this.read.set(m.digest, { subject: subjectOf(m)?.digest ?? null })
    }
    for (const digest of graph.blobs.keys()) this.blobs.add(digest)
  }

  /** The manifest by digest, undefined when its file is absent (a corrupt one fails the collection). */
  private async manifest(digest: Digest): Promise<Manifest | undefined> {
    if (!(await this.layout.hasBlob(digest))) return undefined
    return this.reader.manifest(digest)
  }

  private async subjectOf(c: { digest: string; size: number }): Promise<string | null> {
    let known = this.read.get(c.digest)
    if (known === undefined) {
      known = 'not-a-manifest'
      if (c.size <= MAX_MANIFEST_BYTES && isDigest(c.digest)) {
        try {
          known = { subject: subjectOf(await this.reader.manifest(c.digest))?.digest ?? null }
        } catch {
          // A layer, a config, or bytes that are no manifest: nothing refers through it.
        }
      }
      this.read.set(c.digest, known)
    }
    return known === 'not-a-manifest' ? null : known.subject
  }
}
