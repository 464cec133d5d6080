/**
 * The mirror spec read by `ferry sync FILE.yaml` (a commented example: examples/sync.example.yaml).
 *
 *   version: 1
 *   target: reg.local:5000/cache            # default destination prefix (a host, or host/path)
 *   concurrency: 4                          # images copied at once (default 4)
 *   defaults: { platforms: [linux/amd64, linux/arm64], referrers: true }
 *   images:
 *     - source: docker.io/library/postgres  # a repository: the `tags` filter chooses (required)
 *       tags: { semver: ">=16 <17", newest: 2 }
 *       destination: reg.local:5000/cache/postgres
 *     - source: ghcr.io/acme/web             # exact tags, as a plain list
 *       tags: [v1.0.0, latest]
 *     - source: docker.io/library/python:3.12-slim   # one image, by tag or digest (no `tags`)
 *       platforms: [linux/amd64]
 *       referrers: false
 *     - source: bundle:site.tar:docker.io/library/redis   # any location: https://…, oci:DIR:REPO, bundle:FILE:IMAGE
 *       tags: [7.2]
 *   mappings:                               # prefix rewrites, longest `from` first
 *     - from: docker.io/library/
 *       to: reg.local:5000/cache/
 *
 * Where an image goes (planDestination), first rule that applies:
 *   1. the image's own `destination` (a repository);
 *   2. the mapping whose `from` is the longest prefix of the source repository, matched on whole path
 *      components (`docker.io/library` matches `docker.io/library/postgres`, never `docker.io/library2/x`):
 *      docker.io/library/postgres with docker.io/library/ → reg.local:5000/cache/  ⇒ reg.local:5000/cache/postgres
 *   3. `target` + "/" + the source repository without its registry:
 *      ghcr.io/acme/mini-api with target reg.local:5000/cache ⇒ reg.local:5000/cache/acme/mini-api
 *      docker.io/library/redis with target reg.local:5000     ⇒ reg.local:5000/library/redis
 * A bundle's image is placed by the name the bundle gives it (its source repository), as a registry's.
 * A layout's repository view REPO (`oci:DIR:REPO[:TAG]`) has no registry: `destination`, else
 * `target` + "/" + REPO; mappings (registry prefixes) never apply to it.
 * An image none of these place is an error at load time, pointing at its `source` line.
 *
 * Unknown fields are refused: in a hand-written file they are typos (`tag:` for `tags:`), and a typo
 * that is silently ignored mirrors the wrong thing.
 */
import { z } from 'zod'
import { FerryError } from '../errors.js'
import type { Platform } from '../oci/schemas.js'
import { pathProblem, REPOSITORY_MAX } from '../reference/grammar.js'
import {
  formatLocation,
  formatRepository,
  type Location,
  parseLocation,
  parseRepository,
  parseRepositoryPrefix,
  repositoryName,
} from '../reference/index.js'
import { parsed, platformsSchema } from './parsed.js'
import { tagFilterSchema } from './tag-filter.js'
import { readYamlSpec } from './yaml.js'

/** A zod string that must survive `parse`; the parsed value replaces the string. */

const prefix = parsed(parseRepositoryPrefix)

// Checked per image, so one image's mistake does not hide another's: all are reported together.
const imageSchema = z
  .strictObject({
    source: parsed(parseSource),
    tags: tagFilterSchema.optional(),
    destination: parsed((value) => formatRepository(parseRepository(value))).optional(),
    platforms: platformsSchema.optional(),
    referrers: z.boolean().optional(),
  })
  .superRefine((image, ctx) => {
    const pinned = image.source.tag !== undefined || image.source.digest !== undefined
    if (!pinned && !image.tags) {
      ctx.addIssue({
        code: 'custom',
        path: ['source'],
        // Unpinned: the repository itself, without the `:latest` formatLocation spells out.
        message: `${formatLocation(image.source).replace(/:latest$/, '')} is a repository: add a tags filter (exact tags: [v1.0.0, latest]; every tag: { match: "*" }) or name one image with :TAG or @DIGEST`,
      })
    }
    if (pinned && image.tags) {
      ctx.addIssue({
        code: 'custom',
        path: ['tags'],
        message: `the source ${formatLocation(image.source)} already names one image: drop tags, or the source's tag`,
      })
    }
  })

const mappingSchema = z.strictObject({ from: prefix, to: prefix })

export const syncSpecSchema = z
  .strictObject({
    version: z.literal(1, { message: 'unsupported spec version: this ferry reads version: 1' }),
    target: prefix.optional(),
    concurrency: z.number().int().min(1).max(64).default(4),
    defaults: z
      .strictObject({ platforms: platformsSchema.optional(), referrers: z.boolean().default(true) })
      .prefault({}),
    images: z.array(imageSchema).min(1),
    mappings: z.array(mappingSchema).default([]),
  })
  .superRefine((spec, ctx) => {
    spec.images.forEach((image, i) => {
      try {
        placeImage(spec, image)
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['images', i, 'source'], message: (err as Error).message })
      }
    })
  })

export type SyncSpec = z.infer<typeof syncSpecSchema>
export type SyncImage = SyncSpec['images'][number]
export type SyncMapping = SyncSpec['mappings'][number]

export function loadSyncSpec(path: string): Promise<SyncSpec> {
  return readYamlSpec(path, syncSpecSchema)
}

/** The image's settings with the spec's defaults filled in; `platforms` undefined means all of them. */
export function imageSettings(
  spec: SyncSpec,
  image: SyncImage,
): { platforms?: Platform[]; referrers: boolean } {
  const platforms = image.platforms ?? spec.defaults.platforms
  const referrers = image.referrers ?? spec.defaults.referrers
  return platforms ? { platforms, referrers } : { referrers }
}

/** Any location an image can be read from; a bundle must name its image (it holds many). */
function parseSource(value: string): Location {
  const source = parseLocation(value)
  if (source.kind === 'bundle' && source.repository === undefined) {
    throw new FerryError(
      'REFERENCE_INVALID',
      `${value}: name the image, bundle:FILE:IMAGE (e.g. bundle:site.tar:docker.io/library/postgres)`,
    )
  }
  return source
}

/** The destination repository (`registry/path`) of a spec image, wherever its source is (module comment). */
export function placeImage(
  spec: { target?: string; mappings?: readonly SyncMapping[] },
  image: { source: Location; destination?: string },
): string {
  const { source } = image
  if (source.kind !== 'layout') return planDestination(repositoryName(source)!, spec, image)
  if (image.destination) return image.destination
  const shown = formatLocation(source)
  if (source.repository === undefined || !spec.target) {
    throw new FerryError(
      'USAGE',
      `no destination for ${shown}: set destination${source.repository === undefined ? ' (a layout without a repository view names none)' : ', or target'}`,
    )
  }
  const problem = pathProblem(source.repository)
  if (problem)
    throw new FerryError('USAGE', `${shown}: repository view "${source.repository}" as a path: ${problem}`)
  return join(shown, spec.target, source.repository)
}

/**
 * The destination repository (`registry/path`) for a source repository, by the rules in the module
 * comment. `sourceRepo` may be in any form `parseRepository` takes (`postgres` is docker.io/library/postgres).
 */
export function planDestination(
  sourceRepo: string,
  spec: { target?: string; mappings?: readonly SyncMapping[] },
  image?: { destination?: string },
): string {
  const source = formatRepository(parseRepository(sourceRepo))
  if (image?.destination) return image.destination

  const mapping = (spec.mappings ?? [])
    .filter((m) => source === m.from || source.startsWith(`${m.from}/`))
    .reduce<SyncMapping | undefined>(
      (best, m) => (!best || m.from.length > best.from.length ? m : best),
      undefined,
    )
  if (mapping) return join(source, mapping.to, source.slice(mapping.from.length + 1))

  if (spec.target) return join(source, spec.target, source.slice(source.indexOf('/') + 1))
  throw new FerryError(
    'USAGE',
    `no destination for ${source}: set target, a mapping whose from matches it, or destination`,
  )
}

function join(source: string, to: string, rest: string): string {
  const out = rest ? `${to}/${rest}` : to
  const path = out.slice(out.indexOf('/') + 1)
  if (!out.includes('/')) {
    throw new FerryError(
      'USAGE',
      `destination for ${source} would be the registry ${to} alone: map it to a repository`,
    )
  }
  if (path.length > REPOSITORY_MAX) {
    throw new FerryError(
      'USAGE',
      `destination ${out} for ${source}: repository path over ${REPOSITORY_MAX} characters`,
    )
  }
  return out
}
