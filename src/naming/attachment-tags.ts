import { type Digest, isDigest, parseDigest } from '../oci/digest.js'

/**
 * The one owner of the tags that stand for attachments rather than versions: the referrers tag schema
 * (`sha256-HEX`, distribution spec v1.1 "Referrers Tag Schema") and cosign's `sha256-HEX.sig|att|sbom`.
 * Copy, sync, bundles, policy and retention all ask here whether a tag is one, and for what.
 */

/** cosign's tag suffixes for signatures, attestations and (deprecated) SBOMs stored beside an image. */
export const COSIGN_TAG_SUFFIXES = ['sig', 'att', 'sbom'] as const
export type CosignTagSuffix = (typeof COSIGN_TAG_SUFFIXES)[number]

/** `sha256:abc…` → `sha256-abc…`; the spec truncates the algorithm to 32 and the hex to 64 characters. */
export function referrersTag(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest)
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`
}

/** `<alg>-<hex>.<suffix>`, the tag cosign derives from the subject digest (`pkg/oci/remote/remote.go normalize`). */
export function cosignTag(digest: string, suffix: CosignTagSuffix): string {
  const { algorithm, hex } = parseDigest(digest)
  return `${algorithm}-${hex}.${suffix}`
}

/** The three cosign tags an image may have, in COSIGN_TAG_SUFFIXES order. */
export const cosignTags = (digest: string): string[] => COSIGN_TAG_SUFFIXES.map((s) => cosignTag(digest, s))

export interface AttachmentTag {
  /** The digest the tag is about. */
  subject: Digest
  /** `index`: the tag-schema referrers index; otherwise cosign's kind. */
  kind: 'index' | CosignTagSuffix
}

const ATTACHMENT_TAG_RE = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(?:\.(sig|att|sbom))?$/

/** What an attachment tag is about, or undefined for an ordinary (version) tag. */
export function parseAttachmentTag(tag: string): AttachmentTag | undefined {
  const m = ATTACHMENT_TAG_RE.exec(tag)
  if (!m) return undefined
  const subject = `${m[1]}:${m[2]}`
  if (!isDigest(subject)) return undefined
  return { subject, kind: (m[3] as CosignTagSuffix | undefined) ?? 'index' }
}

export const isAttachmentTag = (tag: string): boolean => parseAttachmentTag(tag) !== undefined
