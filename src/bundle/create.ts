import type { KeyObject } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Context } from '../context.js'
import { FerryError } from '../errors.js'
import { serializeIndex } from '../layout/layout-files.js'
import type { Digest } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import type { ProgressSink } from '../progress.js'
import type { Signer } from '../sign/signer.js'
import { bundleCreated } from './created-time.js'
import { applyOmission, loadOmission } from './delta.js'
import {
  type BundleMetadata,
  encodeJson,
  FORMAT_VERSION,
  type ImageRecord,
  INDEX_NAME,
  METADATA_NAME,
  metadataTotals,
  OCI_LAYOUT_NAME,
  SIGNATURE_NAME,
} from './format.js'
import { openOutput, type WrittenBundle } from './output.js'
import { type BundlePlan, planBundle } from './plan.js'
import { type BundleRequirements, checkRequirements } from './requirements.js'
import { signMetadata } from './signature.js'
import type { BundleSpec } from './spec.js'
import { type TarBlob, type TarFile, writeBundleTar } from './tar-write.js'

export interface CreateBundleOptions {
  /** The bundle file; with `splitSize`, the stem of `FILE.000`, … and `FILE.parts.json`. */
  output: string
  /** Delta: leave out blobs an earlier bundle carried (or itself left out). */
  base?: string
  /** Delta: leave out blobs a closed-side inventory lists. */
  against?: string
  /** Bytes per part. Default: one file. */
  splitSize?: number
  /** Signs ferry-bundle.json (ECDSA P-256): a key in memory, or a signer (a key file or a PKCS#11 token). */
  signingKey?: KeyObject | Signer
  /** The release counter import orders bundles of this name by (import-record.ts). Default: none, `created` orders. */
  sequence?: number
  /** Images resolved at once. Default 4. */
  concurrency?: number
  /** What every image must carry (a signature, an SBOM): checked on the plan, before anything is written. */
  require?: BundleRequirements
  /** SOURCE_DATE_EPOCH is read from here (else the time comes from the images, never the clock). Default process.env. */
  env?: NodeJS.ProcessEnv
}

export interface CreateBundleResult extends WrittenBundle {
  name: string
  version: string
  created: string
  sequence?: number
  images: ImageRecord[]
  /** Files under blobs/ (manifests included) and their total size. */
  blobs: number
  blobBytes: number
  omitted: { blobs: number; bytes: number }
  signed: boolean
  durationMs: number
}

/**
 * `ferry bundle create`: resolves every image and walks every graph first (manifests are small), so the
 * whole content is known before the first tar byte; then writes the tar in one pass, each blob streamed
 * from its registry into its entry. The file appears under its name only when complete.
 */
export async function createBundle(
  ctx: Context,
  spec: BundleSpec,
  opts: CreateBundleOptions,
): Promise<CreateBundleResult> {
  const started = performance.now()
  const env = opts.env ?? process.env
  await checkOutputDirectory(opts.output)
  // Before anything is fetched: a mistyped --base or --against should not cost a registry walk.
  const omission = await loadOmission({ base: opts.base, against: opts.against })
  const { client } = ctx
  const plan = await planBundle(spec, {
    repository: (ref) => client.repository(ref),
    concurrency: opts.concurrency,
  })
  checkRequirements(plan, opts.require ?? {}, opts.output)
  const omitted = applyOmission(plan, omission)
  const created = bundleCreated(env, plan.times)
  const metadata: BundleMetadata = {
    formatVersion: FORMAT_VERSION,
    name: spec.name,
    version: spec.version,
    created,
    ...(opts.sequence === undefined ? {} : { sequence: opts.sequence }),
    entries: plan.entries,
    images: plan.images,
    blobs: blobList(plan),
    omitted,
    ...(omission.base ? { base: omission.base } : {}),
    ...(omission.against ? { against: omission.against } : {}),
  }
  const metadataBytes = encodeJson(metadata)
  const files: TarFile[] = [
    { name: OCI_LAYOUT_NAME, bytes: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { name: METADATA_NAME, bytes: metadataBytes },
  ]
  if (opts.signingKey)
    files.push({ name: SIGNATURE_NAME, bytes: await signMetadata(metadataBytes, opts.signingKey) })
  files.push({
    name: INDEX_NAME,
    bytes: serializeIndex({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: plan.entries }),
  })
  const written = await write(plan, files, metadata, opts, new Date(created), ctx.progress)
  return {
    ...written,
    name: spec.name,
    version: spec.version,
    created,
    ...(opts.sequence === undefined ? {} : { sequence: opts.sequence }),
    images: plan.images,
    ...metadataTotals(metadata),
    signed: !!opts.signingKey,
    durationMs: Math.round(performance.now() - started),
  }
}

/** Every file under blobs/, sorted by digest: the order they are written and listed in. */
function blobList(plan: BundlePlan): BundleMetadata['blobs'] {
  const all = new Map<string, number>()
  for (const [digest, bytes] of plan.manifests) all.set(digest, bytes.byteLength)
  for (const [digest, b] of plan.blobs) all.set(digest, b.desc.size)
  return [...all]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([digest, size]) => ({ digest: digest as Digest, size }))
}

async function write(
  plan: BundlePlan,
  files: TarFile[],
  metadata: BundleMetadata,
  opts: CreateBundleOptions,
  mtime: Date,
  progress: ProgressSink,
): Promise<WrittenBundle> {
  const blobs: TarBlob[] = metadata.blobs.map(({ digest, size }) => {
    const bytes = plan.manifests.get(digest)
    if (bytes) return { desc: { mediaType: 'application/octet-stream', digest, size }, bytes }
    const planned = plan.blobs.get(digest)!
    return planned.bytes
      ? { desc: planned.desc, bytes: planned.bytes }
      : { desc: planned.desc, source: planned.source }
  })
  const subject = opts.output
  const total = blobs.reduce((n, b) => n + b.desc.size, 0)
  progress({ type: 'start', phase: 'bundle-write', subject, unit: 'bytes', total, items: blobs.length })
  const out = await openOutput(opts.output, opts.splitSize)
  try {
    await writeBundleTar(files, blobs, out, {
      mtime,
      progress,
      subject,
    })
    return await out.commit()
  } catch (err) {
    await out.abort()
    throw err
  }
}

async function checkOutputDirectory(output: string): Promise<void> {
  const dir = dirname(output)
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  )
  if (!isDir) throw new FerryError('USAGE', `cannot write ${output}: ${dir} is not a directory`)
}
