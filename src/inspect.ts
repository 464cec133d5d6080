import { buffer } from 'node:stream/consumers'
import type { ReadOnlyTarget } from './content/target.js'
import { FerryError } from './errors.js'
import type { Manifest } from './oci/manifest.js'
import { formatPlatform, platformMatches } from './oci/platform.js'
import { type Descriptor, type ImageConfig, imageConfigSchema, type Platform } from './oci/schemas.js'
import { nameWithReference } from './reference/index.js'

/** Image configs are small; a multi-megabyte one is hostile or broken. */
const MAX_CONFIG_BYTES = 8 * 1024 * 1024

export interface InspectResult {
  name: string
  reference: string
  digest: string
  mediaType: string
  size: number
  /** For an index: its children. */
  manifests?: (Descriptor & { platformName?: string })[]
  /** For an image: config descriptor, layers and the parsed config (when it is an image config). */
  config?: Descriptor
  layers?: Descriptor[]
  totalSize?: number
  platform?: string
  created?: string
  labels?: Record<string, string>
  artifactType?: string
  /** The exact bytes, for --raw. */
  raw: Uint8Array
}

export interface InspectOptions {
  /** For an index: inspect the child for this platform instead. */
  platform?: Platform
}

export async function inspectImage(target: ReadOnlyTarget, reference: string, opts: InspectOptions = {}) {
  let manifest = await target.fetchManifest(reference)
  const subject = nameWithReference(target.name, reference)
  if (opts.platform && manifest.kind === 'index') {
    const wanted = opts.platform
    const child = manifest.index.manifests.find((d) => platformMatches(wanted, d.platform))
    if (!child) throw new FerryError('NOT_FOUND', `${subject}: no manifest for ${formatPlatform(wanted)}`)
    manifest = await target.fetchManifest(child.digest)
  } else if (opts.platform) {
    await requireImagePlatform(target, subject, manifest, [opts.platform])
  }
  return describe(target, reference, manifest)
}

/** The platform an image's config declares; undefined for an index, an artifact, or a config without one. */
export async function imagePlatform(target: ReadOnlyTarget, m: Manifest): Promise<Platform | undefined> {
  if (m.kind !== 'image' || !isImageConfig(m.image.config)) return undefined
  const config = await readConfig(target, m.image.config)
  if (!config?.os || !config.architecture) return undefined
  return { os: config.os, architecture: config.architecture, variant: config.variant }
}

/**
 * Refuses a single-platform image that is none of `wanted`: asked for linux/s390x, an amd64 image is
 * not an answer (an index is filtered by its children instead).
 */
export async function requireImagePlatform(
  target: ReadOnlyTarget,
  subject: string,
  m: Manifest,
  wanted: readonly Platform[],
): Promise<void> {
  if (m.kind !== 'image' || wanted.length === 0) return
  const own = await imagePlatform(target, m)
  if (own && wanted.some((w) => platformMatches(w, own))) return
  const what = own ? `a single-platform ${formatPlatform(own)} image` : 'an image that declares no platform'
  throw new FerryError('NOT_FOUND', `${subject} is ${what}, not ${wanted.map(formatPlatform).join(', ')}`)
}

async function describe(target: ReadOnlyTarget, reference: string, m: Manifest): Promise<InspectResult> {
  const base = {
    name: target.name,
    reference,
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.bytes.byteLength,
    raw: m.bytes,
  }
  if (m.kind === 'index') {
    return {
      ...base,
      manifests: m.index.manifests.map((d) => ({
        ...d,
        platformName: d.platform ? formatPlatform(d.platform) : undefined,
      })),
    }
  }
  const { config, layers } = m.image
  const artifactType = (m.image as { artifactType?: string }).artifactType
  const result: InspectResult = {
    ...base,
    config,
    layers,
    totalSize: config.size + layers.reduce((n, l) => n + l.size, 0),
    artifactType,
  }
  const parsed = isImageConfig(config) ? await readConfig(target, config) : undefined
  if (parsed) {
    if (parsed.os && parsed.architecture) {
      result.platform = formatPlatform({
        os: parsed.os,
        architecture: parsed.architecture,
        variant: parsed.variant,
      })
    }
    result.created = parsed.created
    result.labels = parsed.config?.Labels ?? undefined
  }
  return result
}

export const isImageConfig = (d: Descriptor) =>
  d.mediaType === 'application/vnd.oci.image.config.v1+json' ||
  d.mediaType === 'application/vnd.docker.container.image.v1+json'

export async function readConfig(target: ReadOnlyTarget, desc: Descriptor): Promise<ImageConfig | undefined> {
  return (await readConfigBytes(target, desc))?.config
}

/**
 * A config's bytes (digest-checked by the target) and what they say as an image config, for a caller
 * that also writes the blob (bundle create) and so need not fetch it twice; undefined when it is
 * larger than MAX_CONFIG_BYTES, which is not read.
 */
export async function readConfigBytes(
  target: ReadOnlyTarget,
  desc: Descriptor,
): Promise<{ bytes: Uint8Array; config: ImageConfig | undefined } | undefined> {
  if (desc.size > MAX_CONFIG_BYTES) return undefined
  const bytes = new Uint8Array(await buffer(await target.fetchBlob(desc)))
  // A config that is not an image config (an artifact's, say) is shown by its descriptor alone.
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    return { bytes, config: undefined }
  }
  const parsed = imageConfigSchema.safeParse(doc)
  return { bytes, config: parsed.success ? parsed.data : undefined }
}
