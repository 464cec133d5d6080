/**
 * The bundle spec read by `ferry bundle create SPEC.yaml` (example: bundles/mini-api.yaml).
 *
 *   name: mini-api                 # [a-z0-9][a-z0-9._-]*, recorded in ferry-bundle.json
 *   version: "1.0.0"               # any string; quote it (YAML reads 1.10 as the number 1.1)
 *   referrers: true                # carry signatures, SBOMs, attestations (both schemes); default true
 *   platforms: [linux/amd64]       # default for every image; leave out to keep all platforms
 *   images:
 *     - ref: docker.io/library/postgres:16
 *       platforms: [linux/amd64, linux/arm64]
 *     - ref: docker.io/library/python            # a repository: `tags` picks which
 *       tags: { tags: ["3.12-slim"], match: "3.12.*-slim" }
 *     - ref: ghcr.io/example/mini-api:1.0
 *       destination: apps/mini-api               # import hint: path under `--to`
 *       referrers: false
 *
 * `tags` is the tag filter sync uses (src/spec/tag-filter.ts). Unknown fields are refused: in a
 * hand-written file they are typos, and a bundle missing an image is found out only across the air gap.
 */
import { z } from 'zod'
import { FerryError } from '../errors.js'
import type { Platform } from '../oci/schemas.js'
import { pathProblem } from '../reference/grammar.js'
import { formatRepository, parseRegistryReference, type RegistryReference } from '../reference/index.js'
import { platformsSchema } from '../spec/parsed.js'
import { type TagFilter, tagFilterSchema } from '../spec/tag-filter.js'
import { readYamlSpec } from '../spec/yaml.js'

const destinationHint = z.string().superRefine((value, ctx) => {
  const problem = pathProblem(value)
  if (problem)
    ctx.addIssue({ code: 'custom', message: `${problem} (a path under the import prefix, e.g. apps/web)` })
})

const imageSchema = z.strictObject({
  ref: z.string().transform((value, ctx) => {
    try {
      return { original: value, reference: parseRegistryReference(value) }
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
      return z.NEVER
    }
  }),
  tags: tagFilterSchema.optional(),
  platforms: platformsSchema.optional(),
  referrers: z.boolean().optional(),
  destination: destinationHint.optional(),
})

export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/

export const bundleSpecSchema = z
  .strictObject({
    name: z
      .string()
      .regex(NAME_RE, 'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit'),
    version: z.string().min(1),
    referrers: z.boolean().default(true),
    platforms: platformsSchema.optional(),
    images: z.array(imageSchema).min(1),
  })
  .superRefine((spec, ctx) => {
    spec.images.forEach((image, i) => {
      const ref = image.ref.reference
      const pinned = ref.tag !== undefined || ref.digest !== undefined
      if (!pinned && !image.tags) {
        ctx.addIssue({
          code: 'custom',
          path: ['images', i, 'ref'],
          message: `${formatRepository(ref)} is a repository: add a tags filter or name one image with :TAG or @DIGEST`,
        })
      }
      if (pinned && image.tags) {
        ctx.addIssue({
          code: 'custom',
          path: ['images', i, 'tags'],
          message: 'the ref already names one image: drop tags',
        })
      }
    })
  })

type ParsedSpec = z.infer<typeof bundleSpecSchema>

/** One image as a bundle spec or `--image` names it: a pinned reference, or a repository with a tag filter. */
export interface BundleImageSpec {
  original: string
  reference: RegistryReference
  tags?: TagFilter
  platforms?: Platform[]
  referrers: boolean
  destination?: string
}

export interface BundleSpec {
  name: string
  version: string
  images: BundleImageSpec[]
}

export function normaliseSpec(spec: ParsedSpec): BundleSpec {
  return {
    name: spec.name,
    version: spec.version,
    images: spec.images.map((image) => ({
      original: image.ref.original,
      reference: image.ref.reference,
      tags: image.tags,
      platforms: image.platforms ?? spec.platforms,
      referrers: image.referrers ?? spec.referrers,
      destination: image.destination,
    })),
  }
}

export async function loadBundleSpec(path: string): Promise<BundleSpec> {
  return normaliseSpec(await readYamlSpec(path, bundleSpecSchema))
}

/**
 * The name of a bundle made from `--image` flags without `--name`: the images' last repository
 * components, in order (`acme/web` and `library/redis` make `web-redis`). From the content, so the
 * same images make the same bytes whatever the output file is called.
 */
export function defaultBundleName(refs: readonly string[]): string {
  const names = refs.map((r) => parseRegistryReference(r).repository.split('/').pop()!.toLowerCase())
  const joined = [...new Set(names)].join('-').slice(0, 128)
  return NAME_RE.test(joined) ? joined : 'bundle'
}

/** A spec from `--image REF` flags: each must name one image (tag or digest). */
export function specFromImages(
  refs: readonly string[],
  opts: { name: string; version: string; platforms?: Platform[]; referrers?: boolean },
): BundleSpec {
  if (!NAME_RE.test(opts.name)) {
    throw new FerryError(
      'USAGE',
      `invalid bundle name "${opts.name}": lower-case letters, digits, ".", "_" and "-", starting with a letter or digit`,
    )
  }
  return {
    name: opts.name,
    version: opts.version,
    images: refs.map((original) => ({
      original,
      reference: parseRegistryReference(original),
      platforms: opts.platforms,
      referrers: opts.referrers ?? true,
    })),
  }
}
