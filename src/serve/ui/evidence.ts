import type { ReadOnlyTarget } from '../../content/target.js'
import { isFerryError } from '../../errors.js'
import type { Digest } from '../../oci/digest.js'
import type { Manifest } from '../../oci/manifest.js'
import { parseAttachmentTag } from '../../reference/grammar.js'
import {
  BUNDLE_PREDICATE_TYPE_ANNOTATION,
  COSIGN_SIGN_PREDICATE_TYPE,
  type KeySet,
  type KeyStatus,
  type SbomSummary,
  summarizeSbom,
} from '../../sign/index.js'
import { readBlobBytes } from '../../supply/content.js'
import { type AttachedEntry, type AttachedTree, listAttached, verifyImage } from '../../supply/index.js'
import { sbomFormatOfType } from '../../supply/kinds.js'

export type AttachedKind = 'signature' | 'attestation' | 'sbom' | 'artifact'

/** One signature layer (a `.sig` image may hold several) checked with the policy's keys. */
export interface SignatureResult {
  /** The key that made it, as the trust decision judged it; undefined: none of the policy's keys. */
  key?: { name: string; fingerprint: string; status: KeyStatus }
  /** It verifies with a key in force (not revoked, inside its window). */
  ok: boolean
  /** Why it does not count (a revoked or expired key is named), when it does not. */
  reason?: string
}

export interface AttachedView {
  entry: AttachedEntry
  kind: AttachedKind
  /** `Sigstore bundle`, `cosign signature`, `SPDX SBOM`, the artifact type otherwise. */
  label: string
  /** For signatures: each layer's result; empty when there are no keys to check with. */
  signatures?: SignatureResult[]
  /** For SBOMs: the document's counts, or why it could not be read. */
  sbom?: { summary?: SbomSummary; error?: string; layer?: Digest; format?: string }
  children: AttachedView[]
}

export interface Evidence {
  tree: AttachedTree
  root: AttachedView[]
  /** For an index: what is attached to each platform image that has anything. */
  platforms: { platform?: string; digest: Digest; attached: AttachedView[] }[]
}

/** SBOMs are read whole to count them; one this large is shown by its descriptor only. */
const MAX_SBOM_BYTES = 32 * 1024 * 1024
const BUNDLE_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle'
const IN_TOTO_TYPE = 'application/vnd.in-toto+json'

function classify(e: AttachedEntry): { kind: AttachedKind; label: string } {
  const cosign = e.tag ? parseAttachmentTag(e.tag)?.kind : undefined
  if (cosign === 'sig') return { kind: 'signature', label: 'cosign signature (.sig tag)' }
  if (cosign === 'att') return { kind: 'attestation', label: 'cosign attestation (.att tag)' }
  const type = e.artifactType ?? ''
  const sbom = sbomFormatOfType(type)
  if (cosign === 'sbom' || sbom) {
    const format = sbom === 'cyclonedx' ? 'CycloneDX' : sbom === 'spdx' ? 'SPDX' : 'SBOM'
    return { kind: 'sbom', label: `${format} SBOM${cosign === 'sbom' ? ' (.sbom tag)' : ''}` }
  }
  if (type.startsWith(BUNDLE_TYPE_PREFIX)) {
    const predicate = e.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION]
    if (predicate && predicate !== COSIGN_SIGN_PREDICATE_TYPE)
      return { kind: 'attestation', label: `Sigstore bundle attestation (${predicate})` }
    return { kind: 'signature', label: 'Sigstore bundle signature' }
  }
  if (type === IN_TOTO_TYPE) return { kind: 'attestation', label: 'in-toto attestation' }
  return { kind: 'artifact', label: type || e.mediaType }
}

/**
 * Every signature on `subjects` (and on their SBOMs) checked with the policy's keys and judged by the
 * trust decision, by the offline verify `ferry verify` and the pull gate use: per signature manifest,
 * one result per layer.
 */
async function signatureResults(
  target: ReadOnlyTarget,
  subjects: readonly Digest[],
  keys: KeySet,
): Promise<Map<string, SignatureResult[]>> {
  const found = new Map<string, SignatureResult[]>()
  for (const subject of subjects) {
    const report = await verifyImage({ target, reference: subject, keys, requireSbom: true })
    const checks = [...report.signatures, ...(report.sboms ?? []).flatMap((s) => s.signatures)]
    // One check per layer, in order: layers are told apart by position, since every layer of a .sig
    // image may hold the same payload (the same digest) under another key's signature.
    const fresh = new Map<string, SignatureResult[]>()
    for (const c of checks) {
      if (found.has(c.manifest)) continue
      const key = c.key && {
        name: c.key.path ?? c.key.fingerprint,
        fingerprint: c.key.fingerprint,
        status: c.key.status,
      }
      fresh.set(c.manifest, [
        ...(fresh.get(c.manifest) ?? []),
        { ok: c.ok, ...(c.reason ? { reason: c.reason } : {}), ...(key ? { key } : {}) },
      ])
    }
    for (const [manifest, results] of fresh) found.set(manifest, results)
  }
  return found
}

async function sbomOf(target: ReadOnlyTarget, e: AttachedEntry): Promise<AttachedView['sbom']> {
  try {
    const m: Manifest = await target.fetchManifest(e.digest)
    if (m.kind !== 'image') return { error: 'not an image manifest' }
    const layer = m.image.layers.find((l) => sbomFormatOfType(l.mediaType)) ?? m.image.layers[0]
    if (!layer) return { error: 'no layer' }
    const bytes = await readBlobBytes(target, layer, MAX_SBOM_BYTES, `SBOM ${e.digest}`)
    return { summary: summarizeSbom(bytes, `SBOM ${e.digest}`), layer: layer.digest as Digest }
  } catch (err) {
    if (isFerryError(err)) return { error: err.message }
    throw err
  }
}

/**
 * What is attached to an image (referrers and cosign tags, recursively: `listAttached`), with each
 * signature checked against the policy's keys and each SBOM summarised. Read from `target` only.
 */
export async function gatherEvidence(
  target: ReadOnlyTarget,
  digest: Digest,
  keys: KeySet | undefined,
): Promise<Evidence> {
  const tree = await listAttached({ target, reference: digest })
  const withChildren = (tree.manifests ?? []).filter((m) => m.attached.length > 0)
  const subjects = [digest, ...withChildren.map((m) => m.digest)]
  const results = keys?.keys.length ? await signatureResults(target, subjects, keys) : new Map()
  const view = async (e: AttachedEntry): Promise<AttachedView> => {
    const { kind, label } = classify(e)
    const children = await Promise.all(e.children.map(view))
    const out: AttachedView = { entry: e, kind, label, children }
    if (kind === 'signature') out.signatures = results.get(e.digest) ?? []
    if (kind === 'sbom' && !e.missing) out.sbom = await sbomOf(target, e)
    return out
  }
  return {
    tree,
    root: await Promise.all(tree.attached.map(view)),
    platforms: await Promise.all(
      withChildren.map(async (m) => ({
        ...(m.platform ? { platform: m.platform } : {}),
        digest: m.digest,
        attached: await Promise.all(m.attached.map(view)),
      })),
    ),
  }
}
