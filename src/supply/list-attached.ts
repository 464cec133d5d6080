import type { ReadOnlyTarget } from '../content/target.js'
import { isFerryError } from '../errors.js'
import { type Attached, discoverAttached, type OnMissing } from '../graph/index.js'
import type { Digest } from '../oci/digest.js'
import { annotationsOf } from '../oci/manifest.js'
import type { Platform } from '../oci/schemas.js'
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

const platformName = (p: Platform | undefined) =>
  p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : undefined

function entryOf(scheme: ReferrersScheme, node: Attached): AttachedEntry {
  const listed = node.descriptor
  const manifest = node.missing ? undefined : node.manifest
  const artifactType = manifest ? effectiveArtifactType(manifest, listed) : listed.artifactType
  const annotations = listed.annotations ?? (manifest ? annotationsOf(manifest) : undefined)
  return {
    scheme: node.scheme === 'cosign-tag' ? 'cosign-tag' : scheme,
    digest: listed.digest as Digest,
    mediaType: listed.mediaType,
    size: listed.size,
    ...(artifactType ? { artifactType } : {}),
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
    ...(node.missing || !node.tag ? {} : { tag: node.tag }),
    ...(node.missing ? { missing: true } : {}),
    children: node.missing ? [] : node.children.map((c) => entryOf(scheme, c)),
  }
}

// A manifest gone from under a listing is shown as such; any other failure to read it still throws.
const listedButGone: OnMissing = (_desc, _subject, { error }) => {
  if (!isFerryError(error, 'NOT_FOUND')) throw error
}

/**
 * Everything attached to an image, in both schemes: OCI 1.1 referrers and cosign's tags, recursively
 * (signatures on an SBOM, …); for an index, also what is attached to each child.
 */
export async function listAttached(opts: ListAttachedOptions): Promise<AttachedTree> {
  const { target } = opts
  const root = await target.fetchManifest(opts.reference)
  const scheme = await referrersScheme(target)
  const children = root.kind === 'index' ? root.index.manifests : []
  const subjects = [...new Set([root.digest, ...children.map((c) => c.digest as Digest)])]
  // One walk over the image and its children: a manifest reached twice is read and shown once.
  const nodes = await discoverAttached(target, subjects, {
    cosignTags: true,
    onMissing: listedButGone,
  })
  const shown = new Set<string>()
  // Attachments of a subject, under its first appearance only (an index may list a child twice).
  const attachedTo = (subject: string): AttachedEntry[] => {
    if (shown.has(subject)) return []
    shown.add(subject)
    const entries = nodes.filter((n) => n.subject === subject).map((n) => entryOf(scheme, n))
    return opts.artifactType ? entries.filter((e) => e.artifactType === opts.artifactType) : entries
  }
  const tree: AttachedTree = {
    name: target.name,
    reference: opts.reference,
    digest: root.digest,
    mediaType: root.mediaType,
    referrersScheme: scheme,
    attached: attachedTo(root.digest),
  }
  if (root.kind === 'index') {
    tree.manifests = children.map((child) => {
      const platform = platformName(child.platform)
      return {
        digest: child.digest as Digest,
        mediaType: child.mediaType,
        ...(platform ? { platform } : {}),
        attached: attachedTo(child.digest),
      }
    })
  }
  return tree
}
