import { z } from 'zod'
import { FerryError } from '../errors.js'
import { type Digest, digestOf } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor, Platform } from '../oci/schemas.js'
import { goJson, sortedByGoKey } from './go-json.js'

/**
 * Images shaped exactly as go-containerregistry builds them for cosign (`empty.Image` + `mutate.Append`,
 * `pkg/v1/manifest.go`, `pkg/v1/config.go`): the `.sig`, `.att` and `.sbom` tags. Field order follows the
 * Go structs, maps are key-sorted, output is compact; the same inputs give the bytes cosign would push.
 */

/** Go's zero `time.Time`, which ggcr writes for every `created` unless told otherwise. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z'

export interface ImageBytes {
  manifestBytes: Uint8Array
  configBytes: Uint8Array
}

/** A layer to append: its descriptor fields; the blob itself is the caller's to upload. */
export type AppendLayer = {
  mediaType: string
  digest: Digest
  size: number
  annotations?: Record<string, string>
}

const historySchema = z.looseObject({
  author: z.string().optional(),
  created: z.string().optional(),
  created_by: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
})
type History = z.infer<typeof historySchema>

const configSchema = z.looseObject({
  architecture: z.string().optional(),
  author: z.string().optional(),
  container: z.string().optional(),
  created: z.string().optional(),
  docker_version: z.string().optional(),
  history: z.array(historySchema).nullish(),
  os: z.string().optional(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(z.string()).nullish() }).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  'os.version': z.string().optional(),
  variant: z.string().optional(),
  'os.features': z.array(z.string()).nullish(),
})
type ConfigFile = z.infer<typeof configSchema>

const EMPTY_CONFIG: ConfigFile = {
  architecture: '',
  created: GO_ZERO_TIME,
  os: '',
  rootfs: { type: 'layers', diff_ids: [] },
  config: {},
}

// Omit-empty like Go's `omitempty`: undefined, '' and empty arrays disappear; struct-typed fields never do.
function compact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) continue
    out[k] = v
  }
  return out
}

function goHistory(h: History): Record<string, unknown> {
  const { author, created_by, comment } = h
  const out = {
    ...compact({ author }),
    created: h.created ?? GO_ZERO_TIME,
    ...compact({ created_by, comment }),
  }
  return h.empty_layer ? { ...out, empty_layer: true } : out
}

function goConfig(c: ConfigFile): Record<string, unknown> {
  return {
    architecture: c.architecture ?? '',
    ...compact({ author: c.author, container: c.container }),
    created: c.created ?? GO_ZERO_TIME,
    ...compact({ docker_version: c.docker_version, history: c.history?.map(goHistory) }),
    os: c.os ?? '',
    rootfs: { type: c.rootfs?.type ?? '', diff_ids: c.rootfs?.diff_ids ?? null },
    config: c.config ?? {},
    ...compact({
      'os.version': c['os.version'],
      variant: c.variant,
      'os.features': c['os.features'] ?? undefined,
    }),
  }
}

function goPlatform(p: Platform): Record<string, unknown> {
  return {
    architecture: p.architecture,
    os: p.os,
    ...compact({
      'os.version': p['os.version'],
      'os.features': p['os.features'],
      variant: p.variant,
      features: p.features,
    }),
  }
}

/** A descriptor in ggcr's `v1.Descriptor` field order. */
export function goDescriptor(d: Descriptor): Record<string, unknown> {
  return {
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    ...compact({ data: d.data, urls: d.urls }),
    ...(d.annotations && Object.keys(d.annotations).length
      ? { annotations: sortedByGoKey(d.annotations) }
      : {}),
    ...(d.platform ? { platform: goPlatform(d.platform) } : {}),
    ...compact({ artifactType: d.artifactType }),
  }
}

function parseConfig(bytes: Uint8Array, subject: string): ConfigFile {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    throw new FerryError('MANIFEST_INVALID', `${subject}: config is not valid JSON`)
  }
  const parsed = configSchema.safeParse(doc)
  if (!parsed.success) throw new FerryError('MANIFEST_INVALID', `${subject}: config is not an image config`)
  return parsed.data
}

/**
 * `mutate.Append` of `layers` onto `existing` (or onto cosign's empty OCI image): one `diff_ids` and one
 * empty `history` entry per layer (the layers are uncompressed, so diff_id = digest), then the manifest
 * with the new config descriptor. Manifest annotations and subject are kept, unknown fields are dropped
 * (ggcr does the same, it unmarshals into its structs).
 */
export function appendLayers(
  existing: ImageBytes | undefined,
  layers: AppendLayer[],
  subject: string,
): ImageBytes {
  let manifestMediaType: string = MediaType.ociManifest
  let configMediaType: string = MediaType.ociConfig
  let base: { layers: Descriptor[]; annotations?: Record<string, string>; subject?: Descriptor } = {
    layers: [],
  }
  let config = EMPTY_CONFIG
  if (existing) {
    const m = parseManifest(existing.manifestBytes, { subject })
    if (m.kind !== 'image') throw new FerryError('MANIFEST_INVALID', `${subject}: expected an image manifest`)
    manifestMediaType = m.mediaType
    configMediaType = m.image.config.mediaType
    base = m.image as typeof base
    config = parseConfig(existing.configBytes, subject)
    if (digestOf(existing.configBytes) !== m.image.config.digest) {
      throw new FerryError(
        'DIGEST_MISMATCH',
        `${subject}: config bytes do not match the manifest's config digest`,
      )
    }
  }
  const nextConfig: ConfigFile = {
    ...config,
    history: [...(config.history ?? []), ...layers.map(() => ({ created: GO_ZERO_TIME }))],
    rootfs: {
      type: config.rootfs?.type ?? 'layers',
      diff_ids: [...(config.rootfs?.diff_ids ?? []), ...layers.map((l) => l.digest)],
    },
  }
  const configBytes = goJson(goConfig(nextConfig))
  const configDescriptor: Descriptor = {
    mediaType: configMediaType,
    size: configBytes.byteLength,
    digest: digestOf(configBytes),
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: manifestMediaType,
    config: goDescriptor(configDescriptor),
    layers: [...base.layers, ...layers].map(goDescriptor),
    ...(base.annotations && Object.keys(base.annotations).length
      ? { annotations: sortedByGoKey(base.annotations) }
      : {}),
    ...(base.subject ? { subject: goDescriptor(base.subject) } : {}),
  }
  return { manifestBytes: goJson(manifest), configBytes }
}
