import { z } from 'zod'
import { parseDigest } from '../oci/digest.js'
import { parseStatement } from '../sign/index.js'

const bundleSchema = z.looseObject({ dsseEnvelope: z.looseObject({ payload: z.string() }) })
const subjectSchema = z.looseObject({
  digest: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.unknown()).optional(),
})

/**
 * The annotations the in-toto subject naming `digest` carries inside a bundle (cosign puts `sign -a k=v`
 * there). Only meaningful once the bundle's signature has verified; empty when there are none.
 */
export function bundleSubjectAnnotations(bundleBytes: Uint8Array, digest: string): Record<string, unknown> {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bundleBytes).toString('utf8'))
  } catch {
    return {}
  }
  const bundle = bundleSchema.safeParse(doc)
  if (!bundle.success) return {}
  const { statement } = parseStatement(Buffer.from(bundle.data.dsseEnvelope.payload, 'base64'))
  const { algorithm, hex } = parseDigest(digest)
  for (const s of statement?.subject ?? []) {
    const subject = subjectSchema.safeParse(s)
    if (subject.success && subject.data.digest[algorithm]?.toLowerCase() === hex) {
      return subject.data.annotations ?? {}
    }
  }
  return {}
}

/** The first required annotation the claims lack, or undefined when all are there with the same value. */
export function missingAnnotation(
  claims: Record<string, unknown>,
  required: Record<string, string> | undefined,
): string | undefined {
  return Object.entries(required ?? {}).find(([k, v]) => claims[k] !== v)?.[0]
}
