/**
 * The verification step of `ferry pin` as one injected function, so that what decides "this image may
 * be deployed" can be signatures with a key (here) or a governance policy (its own package) without pin
 * knowing which. A gate sees the image on the internal registry, by digest, and answers with a verdict
 * and the evidence to record in the lock file.
 */
import type { ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import type { KeySet } from '../sign/key-set.js'
import { verifyImage } from '../supply/verify-image.js'

export interface GateImage {
  target: ReadOnlyTarget
  /** `reg.local:5000/cache/library/postgres` */
  name: string
  digest: Digest
}

export interface Evidence {
  /** Signature manifests that verified. */
  signatures?: Digest[]
  /** `sha256:HEX` of each public key (DER SubjectPublicKeyInfo) a signature verified with. */
  keys?: string[]
  /** SBOMs attached to the image (signed with a verifying key or not). */
  sboms?: Digest[]
  /** Anything else a gate records, e.g. a policy's name and environment. */
  [other: string]: unknown
}

export interface GateVerdict {
  ok: boolean
  evidence: Evidence
  /** One line each: what passed, or why not. */
  messages: string[]
}

export type ImageGate = (image: GateImage) => Promise<GateVerdict>

/**
 * Signatures checked offline in both schemes (cosign `.sig` tag, Sigstore bundle referrers) and judged
 * by the trust decision: the image passes when a signature by one of the keys counts (a key revoked in
 * `keys.revoked` never does). SBOMs are looked up for the evidence only.
 */
export function keyGate(keys: KeySet): ImageGate {
  const names = keys.keys.map((k) => k.path ?? k.fingerprint).join(', ')
  return async ({ target, digest }) => {
    const report = await verifyImage({ target, reference: digest, keys, requireSbom: true })
    const signature = report.requirements.find((r) => r.name === 'signature')!
    const counted = report.signatures.filter((s) => s.ok)
    const unique = <T>(xs: T[]) => [...new Set(xs)].sort()
    return {
      ok: counted.length > 0,
      evidence: {
        signatures: unique(counted.map((s) => s.manifest)),
        keys: unique(counted.map((s) => s.key!.fingerprint)),
        sboms: unique((report.sboms ?? []).map((s) => s.digest)),
      },
      messages: [`${names}: ${signature.detail}`],
    }
  }
}
