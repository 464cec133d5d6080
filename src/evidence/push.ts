import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { basename } from 'node:path'
import { canResumePush } from '../content/capabilities.js'
import type { Target } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import { artifactReferrerManifest, EMPTY_CONFIG_DIGEST } from '../sign/index.js'
import { pushBytes, pushManifestBytes } from '../supply/content.js'
import { CASE_ANNOTATION, EVIDENCE_ARTIFACT_TYPE } from './format.js'
import { verifyEvidence } from './verify.js'

export interface PushEvidenceOptions {
  /** The repository to push to. */
  target: Target
  tag: string
  /** Tag or digest, in `target`, of the image the pack is about: the artifact becomes its referrer. */
  subject?: string
}

export interface PushEvidenceResult {
  name: string
  tag: string
  digest: Digest
  subject?: Digest
  artifactType: string
  case: string
  layer: { mediaType: string; digest: Digest; size: number }
}

async function fileDigest(path: string): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).byteLength
  }
  return { digest: `sha256:${hash.digest('hex')}`, size }
}

/**
 * `ferry evidence push`: the pack as an OCI 1.1 artifact (artifactType application/vnd.ferry.evidence.v1+tar,
 * one layer: the tar as it is), tagged, and with `subject` a referrer of that image, so that whatever
 * carries referrers (copy --referrers, bundles, retention's backup) carries it. The pack is verified first:
 * a broken pack is never published. `created` is the capture time, so pushing a pack again gives the same
 * manifest.
 */
export async function pushEvidence(file: string, opts: PushEvidenceOptions): Promise<PushEvidenceResult> {
  const report = await verifyEvidence(file)
  const layer = await fileDigest(file)
  const { target } = opts
  const subject = opts.subject === undefined ? undefined : await target.resolve(opts.subject)
  const referrer = artifactReferrerManifest({
    artifactType: EVIDENCE_ARTIFACT_TYPE,
    layerMediaType: EVIDENCE_ARTIFACT_TYPE,
    bytes: layer,
    ...(subject ? { subject } : {}),
    annotations: { [CASE_ANNOTATION]: report.case },
    created: report.capturedAt,
    layerAnnotations: { 'org.opencontainers.image.title': basename(file) },
  })
  await pushBytes(target, MediaType.ociEmpty, EMPTY_CONFIG_DIGEST, referrer.configBytes)
  const desc = { mediaType: EVIDENCE_ARTIFACT_TYPE, ...layer }
  if (!(await target.hasBlob(desc))) {
    // A multi-GB pack over a flaky link: a registry upload continues from its offset, re-read from the file.
    const reopen = async (offset: number) => createReadStream(file, { start: offset })
    if (canResumePush(target)) await target.pushBlob(desc, createReadStream(file), { reopen })
    else await target.pushBlob(desc, createReadStream(file))
  }
  const m = await pushManifestBytes(
    target,
    referrer.manifestBytes,
    `${target.name}:${opts.tag} evidence ${report.case}`,
    opts.tag,
  )
  return {
    name: target.name,
    tag: opts.tag,
    digest: m.digest,
    ...(subject ? { subject: subject.digest as Digest } : {}),
    artifactType: EVIDENCE_ARTIFACT_TYPE,
    case: report.case,
    layer: { mediaType: EVIDENCE_ARTIFACT_TYPE, ...layer },
  }
}
