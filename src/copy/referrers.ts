import { resolveIfPresent } from '../content/present.js'
import type { Target } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import { parseDigest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'

/** cosign's tag suffixes for signatures, attestations and (deprecated) SBOMs stored beside an image. */
export const COSIGN_TAG_SUFFIXES = ['sig', 'att', 'sbom'] as const

/** `sha256:abc…` → `sha256-abc…`: the tag-schema name, and the stem of cosign's tags. */
export function digestTag(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest)
  return `${algorithm}-${hex}`
}

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
  source: Target,
  subjects: readonly Digest[],
  opts: DiscoverOptions = {},
): Promise<AttachedNode[]> {
  const seen = new Set<string>(subjects)
  const visit = async (subject: Digest): Promise<AttachedNode[]> => {
    const found: Omit<AttachedNode, 'children'>[] = []
    for (const descriptor of await source.referrers(subject, { artifactType: opts.artifactType })) {
      if (seen.has(descriptor.digest)) continue
      seen.add(descriptor.digest)
      const manifest = await source.fetchManifest(descriptor.digest)
      found.push({ scheme: 'referrer', subject, descriptor, manifest })
    }
    if (opts.cosignTags && !opts.artifactType) {
      const tags = COSIGN_TAG_SUFFIXES.map((suffix) => `${digestTag(subject)}.${suffix}`)
      const present = await Promise.all(tags.map((tag) => resolveIfPresent(source, tag)))
      for (const [i, desc] of present.entries()) {
        if (!desc || seen.has(desc.digest)) continue
        const tag = tags[i]!
        const manifest = await source.fetchManifest(desc.digest)
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

export function flattenAttached(nodes: readonly AttachedNode[]): AttachedNode[] {
  return nodes.flatMap((n) => [n, ...flattenAttached(n.children)])
}
