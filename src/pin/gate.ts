/**
 * The verification step of `ferry pin` as one injected function, so that what decides "this image may
 * be deployed" can be signatures with a key (here) or a governance policy (its own package) without pin
 * knowing which. A gate sees the image on the internal registry, by digest, and answers with a verdict
 * and the evidence to record in the lock file.
 */
import type { KeyObject } from 'node:crypto'
import type { ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import { keyFingerprint } from '../sign/keys.js'
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

export interface PublicKeyFile {
  /** For messages: the file it was read from. */
  path: string
  key: KeyObject
}

/**
 * Signatures checked offline in both schemes (cosign `.sig` tag, Sigstore bundle referrers): the image
 * passes when a signature verifies with any of the keys. SBOMs are looked up for the evidence only.
 */
export function keyGate(keys: readonly PublicKeyFile[]): ImageGate {
  return async ({ target, digest }) => {
    const evidence: Required<Pick<Evidence, 'signatures' | 'keys' | 'sboms'>> = {
      signatures: [],
      keys: [],
      sboms: [],
    }
    const messages: string[] = []
    for (const { path, key } of keys) {
      const report = await verifyImage({ target, reference: digest, publicKey: key, requireSbom: true })
      const signature = report.requirements.find((r) => r.name === 'signature')!
      const good = report.signatures.filter((s) => s.ok)
      if (good.length) {
        evidence.keys.push(keyFingerprint(key))
        evidence.signatures.push(...good.map((s) => s.manifest))
      }
      for (const s of report.sboms ?? []) evidence.sboms.push(s.digest)
      messages.push(`${path}: ${signature.detail}`)
    }
    const unique = <T>(xs: T[]) => [...new Set(xs)].sort()
    return {
      ok: evidence.keys.length > 0,
      evidence: {
        signatures: unique(evidence.signatures),
        keys: unique(evidence.keys),
        sboms: unique(evidence.sboms),
      },
      messages,
    }
  }
}
