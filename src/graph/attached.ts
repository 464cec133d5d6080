import type { ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { COSIGN_TAG_SUFFIXES, cosignTag } from '../reference/grammar.js'
import { type GraphReader, readerOf } from './reader.js'

export interface AttachedNode {
  /** How it is attached: a referrer (`subject` field; API or tag schema) or a cosign `sha256-HEX.sig|att|sbom` tag. */
  scheme: 'referrer' | 'cosign-tag'
  subject: Digest
  descriptor: Descriptor
  manifest: Manifest
  /** The cosign tag it lives under. */
  tag?: string
  /** What is attached to it in turn (a signature on an SBOM, …). */
  children: AttachedNode[]
}

export interface DiscoverOptions {
  /** Also look for cosign's `sha256-HEX.sig|att|sbom` tags (HEAD requests: they do not count against rate limits). */
  cosignTags?: boolean
  artifactType?: string
}

/** Everything attached to each of `subjects`, recursively (cycles and repeats visited once). */
export async function discoverAttached(
  source: ReadOnlyTarget | GraphReader,
  subjects: readonly Digest[],
  opts: DiscoverOptions = {},
): Promise<AttachedNode[]> {
  const reader = readerOf(source)
  const seen = new Set<string>(subjects)
  const listed = async (subject: Digest) => {
    const all = await reader.referrers(subject)
    return opts.artifactType ? all.filter((d) => d.artifactType === opts.artifactType) : all
  }
  const visit = async (subject: Digest): Promise<AttachedNode[]> => {
    const found: Omit<AttachedNode, 'children'>[] = []
    for (const descriptor of await listed(subject)) {
      if (seen.has(descriptor.digest)) continue
      seen.add(descriptor.digest)
      const manifest = await reader.manifest(descriptor.digest)
      found.push({ scheme: 'referrer', subject, descriptor, manifest })
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
        const descriptor = {
          mediaType: manifest.mediaType,
          digest: manifest.digest,
          size: manifest.bytes.byteLength,
        }
        found.push({ scheme: 'cosign-tag', subject, descriptor, manifest, tag })
      }
    }
    return Promise.all(found.map(async (n) => ({ ...n, children: await visit(n.manifest.digest) })))
  }
  return (await Promise.all(subjects.map(visit))).flat()
}

/** Parents before what is attached to them. */
export function flattenAttached(nodes: readonly AttachedNode[]): AttachedNode[] {
  return nodes.flatMap((n) => [n, ...flattenAttached(n.children)])
}
