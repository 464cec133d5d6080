import type { ReadOnlyTarget } from '../content/target.js'
import { ifPresent } from '../errors.js'
import { GraphReader } from '../graph/index.js'
import type { Digest } from '../oci/digest.js'
import { annotationsOf, type Manifest } from '../oci/manifest.js'
import type { Descriptor, Platform } from '../oci/schemas.js'
import { cosignTags } from '../reference/grammar.js'
import { type AttachScheme, effectiveArtifactType, type ReferrersScheme, referrersScheme } from './kinds.js'

export interface AttachedEntry {
  scheme: AttachScheme
  digest: Digest
  mediaType: string
  size: number
  /** As listed, or where the listing has nothing useful, as read from the manifest (see effectiveArtifactType). */
  artifactType?: string
  annotations?: Record<string, string>
  /** The cosign tag it is stored under. */
  tag?: string
  /** Listed as a referrer, but the manifest itself is gone (a stale tag-schema index). */
  missing?: boolean
  /** What is attached to it in turn: a signature on an SBOM, … */
  children: AttachedEntry[]
}

export interface AttachedSubject {
  digest: Digest
  mediaType: string
  /** For an index child: `os/arch[/variant]`. */
  platform?: string
  attached: AttachedEntry[]
}

export interface AttachedTree extends AttachedSubject {
  name: string
  reference: string
  /** How this target lists referrers. */
  referrersScheme: ReferrersScheme
  /** For an index: each child and what is attached to it. */
  manifests?: AttachedSubject[]
}

export interface ListAttachedOptions {
  target: ReadOnlyTarget
  reference: string
  /** Only attachments of this type directly on the image (and on each index child); their own attachments are all kept. */
  artifactType?: string
}

interface Walk {
  /** Reads each manifest and referrer list once, however often the tree reaches it. */
  reader: GraphReader
  scheme: ReferrersScheme
  /** Each manifest is shown once, however many ways it is reached (and cycles end). */
  seen: Set<string>
}

const platformName = (p: Platform | undefined) =>
  p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : undefined

function entryOf(
  scheme: AttachScheme,
  listed: Descriptor,
  manifest: Manifest | undefined,
  tag?: string,
): Omit<AttachedEntry, 'children'> {
  const artifactType = manifest ? effectiveArtifactType(manifest, listed) : listed.artifactType
  const annotations = listed.annotations ?? (manifest ? annotationsOf(manifest) : undefined)
  return {
    scheme,
    digest: listed.digest as Digest,
    mediaType: listed.mediaType,
    size: listed.size,
    ...(artifactType ? { artifactType } : {}),
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
    ...(tag ? { tag } : {}),
    ...(manifest ? {} : { missing: true }),
  }
}

async function attachedTo(walk: Walk, subject: Digest): Promise<AttachedEntry[]> {
  const found: Omit<AttachedEntry, 'children'>[] = []
  for (const listed of await walk.reader.referrers(subject)) {
    if (walk.seen.has(listed.digest)) continue
    walk.seen.add(listed.digest)
    found.push(entryOf(walk.scheme, listed, await ifPresent(walk.reader.manifest(listed.digest))))
  }
  const tags = cosignTags(subject)
  const tagged = await Promise.all(tags.map((tag) => ifPresent(walk.reader.manifest(tag))))
  for (const [i, m] of tagged.entries()) {
    if (!m || walk.seen.has(m.digest)) continue
    walk.seen.add(m.digest)
    const listed = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength }
    found.push(entryOf('cosign-tag', listed, m, tags[i]))
  }
  return Promise.all(
    found.map(async (e) => ({ ...e, children: e.missing ? [] : await attachedTo(walk, e.digest) })),
  )
}

async function subjectTree(walk: Walk, digest: Digest, artifactType?: string): Promise<AttachedEntry[]> {
  const all = await attachedTo(walk, digest)
  return artifactType ? all.filter((e) => e.artifactType === artifactType) : all
}

/**
 * Everything attached to an image, in both schemes: OCI 1.1 referrers and cosign's tags, recursively
 * (signatures on an SBOM, …); for an index, also what is attached to each child.
 */
export async function listAttached(opts: ListAttachedOptions): Promise<AttachedTree> {
  const { target } = opts
  const root = await target.fetchManifest(opts.reference)
  const walk: Walk = {
    reader: new GraphReader(target),
    scheme: await referrersScheme(target),
    seen: new Set([root.digest]),
  }
  const tree: AttachedTree = {
    name: target.name,
    reference: opts.reference,
    digest: root.digest,
    mediaType: root.mediaType,
    referrersScheme: walk.scheme,
    attached: await subjectTree(walk, root.digest, opts.artifactType),
  }
  if (root.kind === 'index') {
    tree.manifests = []
    for (const child of root.index.manifests) {
      walk.seen.add(child.digest)
      const platform = platformName(child.platform)
      tree.manifests.push({
        digest: child.digest as Digest,
        mediaType: child.mediaType,
        ...(platform ? { platform } : {}),
        attached: await subjectTree(walk, child.digest as Digest, opts.artifactType),
      })
    }
  }
  return tree
}
