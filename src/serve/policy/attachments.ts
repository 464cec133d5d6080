import { ifPresent } from '../../errors.js'
import type { Digest } from '../../oci/digest.js'
import { type Manifest, subjectOf } from '../../oci/manifest.js'
import { parseAttachmentTag } from '../../reference/grammar.js'

/** Layers a container runtime unpacks into a root file system: OCI image layers (any compression) and Docker's. */
const FILESYSTEM_LAYER_RE = /^application\/vnd\.(?:oci\.image\.layer\.|docker\.image\.rootfs\.)/
// An index of an index of images is as deep as anything real goes (buildx attestations, nested platforms).
const MAX_DEPTH = 3

export type ManifestLoader = (digest: Digest) => Promise<Manifest>

/**
 * Whether a runtime could run it: an image manifest with a file-system layer, or an index that lists
 * one. A child that cannot be read counts as runnable: the answer decides what a policy lets through.
 */
export async function carriesFilesystem(m: Manifest, load: ManifestLoader, depth = 0): Promise<boolean> {
  if (m.kind === 'image') return m.image.layers.some((l) => FILESYSTEM_LAYER_RE.test(l.mediaType))
  if (depth >= MAX_DEPTH) return true
  for (const d of m.index.manifests) {
    const child = await ifPresent(load(d.digest as Digest))
    if (!child || (await carriesFilesystem(child, load, depth + 1))) return true
  }
  return false
}

/**
 * What attaches to an image rather than being one: a manifest with a `subject` (OCI 1.1 referrers), or
 * one under cosign's `sha256-HEX.sig|att|sbom` or the referrers tag schema's `sha256-HEX` (any of
 * `tags`). Never something a runtime could run: otherwise any image could be pushed past the version
 * rules, and pulled past the signature gate, under a `.sig` tag or with a `subject` added.
 */
export async function isAttachment(
  m: Manifest,
  tags: readonly string[],
  load: ManifestLoader,
): Promise<boolean> {
  const attached = subjectOf(m) !== undefined || tags.some((t) => parseAttachmentTag(t) !== undefined)
  return attached && !(await carriesFilesystem(m, load))
}
