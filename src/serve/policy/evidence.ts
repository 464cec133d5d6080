import { resolveIfPresent } from '../../content/present.js'
import type { ReadOnlyTarget } from '../../content/target.js'
import type { Digest } from '../../oci/digest.js'
import { cosignTags, referrersTag } from '../../reference/grammar.js'

// An image's SBOM is signed after it is attached: the SBOM's own signatures count, one level below.
const EVIDENCE_DEPTH = 2

/**
 * What attaches to `digest` in `target`, as a key that changes whenever the verdict may: its referrers,
 * the manifests its cosign tags and referrers tag name, and theirs one level down (a signature added to
 * an SBOM after it was attached). Digests only: the content behind each is fixed.
 */
export async function evidenceKey(
  target: ReadOnlyTarget,
  digest: Digest,
  depth = EVIDENCE_DEPTH,
): Promise<string> {
  const listed = (await target.referrers(digest)).map((d) => d.digest).sort()
  const tagged = await Promise.all(
    [...cosignTags(digest), referrersTag(digest)].map(
      async (t) => (await resolveIfPresent(target, t))?.digest as Digest | undefined,
    ),
  )
  const attached = [...(listed as Digest[]), ...tagged.filter((d): d is Digest => d !== undefined)]
  const below = depth > 1 ? await Promise.all(attached.map((d) => evidenceKey(target, d, depth - 1))) : []
  return `${digest}[${listed.join(',')}|${tagged.map((d) => d ?? '-').join(',')}|${below.join(';')}]`
}
