/**
 * `bundle import --mapping-out FILE.json`: where each image of a bundle went and the digest to deploy
 * by. Written by import, read back by `ferry pin --mapping FILE.json` to rewrite deployment files.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { digestSchema } from '../oci/schemas.js'
import { writeFileAtomic } from '../util/files.js'
import { encodeJson, SIDE_FILE_FORMAT_VERSION } from './format.js'
import type { ImportResult } from './import.js'

export const mappingOutSchema = z.object({
  formatVersion: z.literal(SIDE_FILE_FORMAT_VERSION),
  bundle: z.object({ name: z.string(), version: z.string() }),
  images: z.array(
    z.object({
      /** Normalised source reference: `docker.io/library/postgres:16`. */
      source: z.string(),
      /** `reg.local:5000/cache/library/postgres:16`, or `…@sha256:…` for an image without a tag. */
      destination: z.string(),
      digest: digestSchema,
      /** `reg.local:5000/cache/library/postgres@sha256:…` */
      pinned: z.string(),
    }),
  ),
})

export type MappingOut = z.infer<typeof mappingOutSchema>

export async function writeMappingFile(path: string, result: ImportResult): Promise<void> {
  const out: MappingOut = {
    formatVersion: SIDE_FILE_FORMAT_VERSION,
    bundle: { name: result.name, version: result.version },
    images: result.images.map((i) => ({
      source: i.source,
      destination: i.destination,
      digest: i.digest,
      pinned: i.pinned,
    })),
  }
  await writeFileAtomic(path, encodeJson(out))
}

/** The parsed file when `text` is one (a JSON object with `formatVersion` and `images`), else undefined. */
export function parseMappingOut(text: string, source: string): MappingOut | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!value || typeof value !== 'object' || !('formatVersion' in value && 'images' in value))
    return undefined
  const parsed = mappingOutSchema.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new FerryError('USAGE', `${source}: ${issue.path.join('.') || '.'}: ${issue.message}`)
  }
  return parsed.data
}

export async function readMappingOut(path: string): Promise<MappingOut | undefined> {
  return parseMappingOut(await readFile(path, 'utf8'), path)
}
