import { resolveIfPresent } from '../../content/present.js'
import type { Digest } from '../../oci/digest.js'
import type { Manifest } from '../../oci/manifest.js'
import { checkName, checkPushedImage, type PolicyCheck, removalCheck } from '../../policy/index.js'
import { parseAttachmentTag } from '../../reference/grammar.js'
import { isAttachment } from './attachments.js'
import type { ServePolicy } from './serve-policy.js'
import type { PolicyView } from './view.js'

/**
 * A manifest PUT, judged before anything is written:
 * - by digest, or an attachment under an attachment tag (a signature re-signed after a key rotation,
 *   an SBOM added after publication: harbor#17332): the naming rule only;
 * - an attachment (a `subject`, no file system) under an ordinary tag: the name rules (naming,
 *   tags.forbid, tags.semver, immutable), not the labels, which are an image's;
 * - an image under a tag: the name rules and the labels, read from the config (or an index's platform
 *   images) the client pushed first.
 * Answers what the tag named before: the caller writes on condition that it still does.
 */
export async function admitPush(
  sp: ServePolicy,
  view: PolicyView,
  manifest: Manifest,
  tag: string | undefined,
): Promise<Digest | undefined> {
  const { policy } = sp
  const digest = manifest.digest
  const load = (d: Digest) => view.target.fetchManifest(d)
  const existing =
    tag === undefined ? undefined : ((await resolveIfPresent(view.target, tag))?.digest as Digest | undefined)
  const attachment = tag !== undefined && (await isAttachment(manifest, [tag], load))
  let rows: PolicyCheck[]
  if (tag === undefined || (attachment && parseAttachmentTag(tag))) {
    rows = sp.imageNames(view.repository).flatMap((name) => checkName({ policy, digest, name }).checks)
  } else if (attachment) {
    rows = sp
      .imageNames(view.repository, tag)
      .flatMap((name) => checkName({ policy, digest, name, existing: existing ?? null }).checks)
  } else {
    const checks = await Promise.all(
      sp.imageNames(view.repository, tag).map((name) =>
        checkPushedImage({
          policy,
          digest,
          name,
          existing: existing ?? null,
          target: view.target,
          manifest,
        }),
      ),
    )
    rows = checks.flatMap((c) => c.checks)
  }
  sp.enforce('PUT', tag === undefined ? `${view.repository}@${digest}` : `${view.repository}:${tag}`, rows)
  return existing
}

/**
 * A DELETE: an immutable tag, or a manifest one names (itself, or as a child of the index it names),
 * stays. Attachment tags may go: revoking a signature made with a compromised key is a delete.
 */
export async function admitDelete(
  sp: ServePolicy,
  view: PolicyView,
  ref: { tag?: string; digest?: Digest },
): Promise<void> {
  const rows: PolicyCheck[] = []
  if (ref.tag !== undefined) {
    if (parseAttachmentTag(ref.tag)) return
    const existing = (await resolveIfPresent(view.target, ref.tag))?.digest as Digest | undefined
    if (existing === undefined) return
    for (const j of sp.judges(view.repository, ref.tag)) {
      const row = removalCheck(j, ref.tag, existing)
      if (row) rows.push(row)
    }
    sp.enforce('DELETE', `${view.repository}:${ref.tag}`, rows)
    return
  }
  const deleting = ref.digest!
  const holders = new Set<string>(await view.indexesHolding(deleting))
  for (const { tag, digest } of await view.tagged()) {
    if (parseAttachmentTag(tag) || (digest !== deleting && !holders.has(digest))) continue
    for (const j of sp.judges(view.repository, tag)) {
      const row = removalCheck(j, tag, digest, deleting)
      if (row) rows.push(row)
    }
  }
  sp.enforce('DELETE', `${view.repository}@${deleting}`, rows)
}
