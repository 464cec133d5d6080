import { z } from 'zod'
import { isDigest } from './digest.js'
import { MediaType } from './media-types.js'

// Loose objects everywhere: a manifest that passes through ferry keeps every field it came with, and
// the bytes pushed are always the bytes received, never a re-serialisation of these values.

export const digestSchema = z.string().refine(isDigest, { message: 'not a valid sha256/sha512 digest' })

export const annotationsSchema = z.record(z.string(), z.string())

export const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
})
export type Platform = z.infer<typeof platformSchema>

export const descriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: annotationsSchema.optional(),
  data: z.string().optional(),
  platform: platformSchema.optional(),
  artifactType: z.string().optional(),
})
export type Descriptor = z.infer<typeof descriptorSchema>

/** OCI image manifest; also an artifact manifest when `artifactType`/`subject` are set. */
export const imageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.ociManifest).optional(),
  artifactType: z.string().optional(),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
})
export type ImageManifest = z.infer<typeof imageManifestSchema>

export const imageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.ociIndex).optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: annotationsSchema.optional(),
})
export type ImageIndex = z.infer<typeof imageIndexSchema>

export const dockerManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.dockerManifest),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
})
export type DockerManifest = z.infer<typeof dockerManifestSchema>

export const dockerManifestListSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.dockerManifestList),
  manifests: z.array(descriptorSchema),
})
export type DockerManifestList = z.infer<typeof dockerManifestListSchema>

export const imageConfigSchema = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  created: z.string().optional(),
  author: z.string().optional(),
  config: z
    .looseObject({
      Labels: z.record(z.string(), z.string()).nullish(),
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      WorkingDir: z.string().optional(),
      User: z.string().optional(),
    })
    .optional(),
  rootfs: z.looseObject({ type: z.string(), diff_ids: z.array(z.string()) }).optional(),
  history: z.array(z.looseObject({})).optional(),
})
export type ImageConfig = z.infer<typeof imageConfigSchema>

/** `oci-layout` file at the root of an OCI image layout. */
export const ociLayoutFileSchema = z.looseObject({ imageLayoutVersion: z.string() })
