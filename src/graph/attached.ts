import type { ReadOnlyTarget } from '../content/target.js'
import { descriptorOf } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { COSIGN_TAG_SUFFIXES, cosignTag } from '../reference/grammar.js'
import type { OnMissing } from './manifests.js'
import { type GraphReader, readerOf } from './reader.js'

interface Attachment {
  /** How it is attached: a referrer (`subject` field; API or tag schema) or a cosign `sha256-HEX.sig|att|sbom` tag. */
  scheme: 'referrer' | 'cosign-tag'
  subject: Digest
  /** As the referrers list gives it (artifactType, annotations), or for a cosign tag, the manifest's own. */
  descriptor: Descriptor
}

export interface AttachedNode extends Attachment {
  manifest: Manifest
  /** The cosign tag it lives under. */
  tag?: string
  /** What is attached to it in turn (a signature on an SBOM, …). */
  children: Attached[]
  missing?: undefined
}

/** Listed as a referrer, but its manifest cannot be read (a stale tag-schema index); only with `onMissing`. */
export interface MissingAttachment extends Attachment {
  scheme: 'referrer'
  missing: true
}

export type Attached = AttachedNode | MissingAttachment

export interface DiscoverOptions {
  /** Also look for cosign's `sha256-HEX.sig|att|sbom` tags (HEAD requests: they do not count against rate limits). */
  cosignTags?: boolean
  /** Only referrers of this type, at every depth (and no cosign tags, which carry no type to ask for). */
  artifactType?: string
  /**
   * A listed referrer whose manifest cannot be read: reported here with its subject instead of thrown,
   * and kept in the result as a MissingAttachment. Default: the read's error is thrown.
   */
  onMissing?: OnMissing
}

export const isFound = (n: Attached): n is AttachedNode => !n.missing

/**
 * Everything attached to each of `subjects`, recursively (cycles and repeats visited once): per subject,
 * its referrers in the order listed, then its cosign tags (.sig, .att, .sbom).
 */
export async function discoverAttached(
  source: ReadOnlyTarget | GraphReader,
  subjects: readonly Digest[],
  opts: DiscoverOptions = {},
): Promise<Attached[]> {
  const reader = readerOf(source)
  const seen = new Set<string>(subjects)
  const listed = async (subject: Digest) => {
    const all = await reader.referrers(subject)
    return opts.artifactType ? all.filter((d) => d.artifactType === opts.artifactType) : all
  }
  const visit = async (subject: Digest): Promise<Attached[]> => {
    const found: (Omit<AttachedNode, 'children'> | MissingAttachment)[] = []
    for (const descriptor of await listed(subject)) {
      if (seen.has(descriptor.digest)) continue
      seen.add(descriptor.digest)
      const read = await reader.manifest(descriptor.digest).then(
        (manifest) => ({ manifest }),
        (error: unknown) => ({ error }),
      )
      if ('manifest' in read) {
        found.push({ scheme: 'referrer', subject, descriptor, manifest: read.manifest })
      } else if (opts.onMissing) {
        opts.onMissing(descriptor, subject, { kind: 'manifest', error: read.error })
        found.push({ scheme: 'referrer', subject, descriptor, missing: true })
      } else throw read.error
    }
    if (opts.cosignTags && !opts.artifactType) {
      const tags = COSIGN_TAG_SUFFIXES.map((suffix) => cosignTag(subject, suffix))
      const present = await Promise.all(tags.map((tag) => reader.tag(tag)))
      for (const [i, desc] of present.entries()) {
        if (!desc || seen.has(desc.digest)) continue
        const tag = tags[i]!
        const manifest = await reader.manifest(desc.digest)
        if (seen.has(manifest.digest)) continue
        seen.add(manifest.digest)
        found.push({ scheme: 'cosign-tag', subject, descriptor: descriptorOf(manifest), manifest, tag })
      }
    }
    return Promise.all(
      found.map(async (n) => (n.missing ? n : { ...n, children: await visit(n.manifest.digest) })),
    )
  }
  return (await Promise.all(subjects.map(visit))).flat()
}

/** Parents before what is attached to them. */
export function flattenAttached(nodes: readonly Attached[]): Attached[] {
  return nodes.flatMap((n) => (n.missing ? [n] : [n, ...flattenAttached(n.children)]))
}
