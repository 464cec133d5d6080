/**
 * What `bundle import` last set each destination tag to, and from which bundle: the record that lets it
 * refuse a rollback. An older bundle, even validly signed, would otherwise move tags back to the images it
 * carries: the signature says who made a bundle, not that it is the latest. Nothing in the destination can
 * say which bundle a manifest came from (an annotation would change its digest), so the record lives on
 * the importing side, in `$XDG_STATE_HOME/ferry/bundle-imports.json`, keyed by destination and tag.
 *
 * Bundles are ordered by `sequence` when both carry one and share a name (a release counter means
 * nothing across names), else by `created`. Only a bundle whose signature was verified (`--key`) gives
 * an order worth trusting: an unsigned bundle can claim any sequence and time. The check applies to
 * every import all the same, as a safety net against an old file picked up by mistake.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { digestSchema } from '../oci/schemas.js'
import { canonicalName, canonicalRepository } from '../reference/index.js'
import { errno, writeFileAtomic } from '../util/files.js'
import { withLock } from '../util/lock.js'
import { ferryStateDir } from '../util/state-dir.js'
import { type Destination, formatDestination } from './mapping.js'

/** Where a bundle stands among others: what the signed metadata says about it. */
export interface BundleOrder {
  name: string
  version: string
  sequence?: number
  created: string
}

export interface TagRecord extends BundleOrder {
  /** The manifest the import set the tag to. */
  digest: Digest
  /** sha256 of the bundle's ferry-bundle.json. */
  metadata: Digest
  /** RFC 3339: when it was imported. */
  imported: string
}

const tagRecordSchema = z.looseObject({
  name: z.string(),
  version: z.string(),
  sequence: z.number().int().nonnegative().optional(),
  created: z.string(),
  digest: digestSchema,
  metadata: digestSchema,
  imported: z.string(),
})
const fileSchema = z.looseObject({ version: z.literal(1), tags: z.record(z.string(), tagRecordSchema) })

export type ImportRecord = Record<string, TagRecord>

export const defaultImportRecordPath = (env: NodeJS.ProcessEnv = process.env): string =>
  join(ferryStateDir(env), 'bundle-imports.json')

/**
 * The key of one destination tag: `HOST/PATH:TAG` with the host in canonical form (`LOCALHOST:5000` is
 * `localhost:5000`: a rollback must not pass for a host spelled otherwise), or `oci:/ABSOLUTE/DIR:PATH:TAG`
 * whatever the cwd.
 */
export const tagKey = (dest: Destination, path: string, tag: string): string =>
  dest.kind === 'layout'
    ? `${formatDestination({ kind: 'layout', path: resolve(dest.path) }, path)}:${tag}`
    : `${canonicalRepository({ registry: dest.registry, repository: path })}:${tag}`

/**
 * A file written before keys were canonical may hold one tag under several spellings: each is read under
 * its canonical key, and of two the newer bundle's record stands (the one the rollback check must keep).
 */
function canonicalKeys(tags: ImportRecord): ImportRecord {
  const out: ImportRecord = {}
  for (const [key, record] of Object.entries(tags)) {
    const canonical = key.startsWith('oci:') ? key : canonicalName(key)
    const held = out[canonical]
    if (!held || isOlder(held, record)) out[canonical] = record
  }
  return out
}

/** Just the order of a bundle's metadata or of a record (both may carry more keys). */
export const orderOf = (m: BundleOrder): BundleOrder => ({
  name: m.name,
  version: m.version,
  ...(m.sequence === undefined ? {} : { sequence: m.sequence }),
  created: m.created,
})

/** An unreadable time sorts first: such a bundle never displaces one with a time. */
const createdMs = (o: BundleOrder): number => {
  const ms = Date.parse(o.created)
  return Number.isFinite(ms) ? ms : Number.NEGATIVE_INFINITY
}

/** Whether bundle `a` comes before `b`: by sequence when both carry one and share a name, else by created. */
export function isOlder(a: BundleOrder, b: BundleOrder): boolean {
  if (a.name === b.name && a.sequence !== undefined && b.sequence !== undefined && a.sequence !== b.sequence)
    return a.sequence < b.sequence
  return createdMs(a) < createdMs(b)
}

/** `app 2 (sequence 2, created 2026-01-01T00:00:00Z)`. */
export const describeOrder = (o: BundleOrder): string =>
  `${o.name} ${o.version} (${o.sequence === undefined ? '' : `sequence ${o.sequence}, `}created ${o.created})`

export async function readImportRecord(path: string): Promise<ImportRecord> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errno(err) === 'ENOENT') return {}
    throw new FerryError('USAGE', `bundle import record ${path} cannot be read (${errno(err) ?? err})`)
  }
  try {
    return canonicalKeys(fileSchema.parse(JSON.parse(text)).tags as ImportRecord)
  } catch {
    // Ignoring it would silently switch the rollback check off.
    throw new FerryError(
      'USAGE',
      `${path} is not a ferry bundle import record; remove it to start over (the rollback check then knows no earlier import)`,
    )
  }
}

/**
 * Records what one import set `key` to, merged into the file under a lock. A record of a newer bundle is
 * kept when the tag did not move (the older bundle set it to the same manifest).
 */
export async function recordImport(path: string, key: string, entry: TagRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  await withLock(`${path}.lock`, {}, async () => {
    const tags = await readImportRecord(path)
    const held = tags[key]
    if (held && held.digest === entry.digest && isOlder(entry, held)) return
    tags[key] = entry
    await writeFileAtomic(path, Buffer.from(`${JSON.stringify({ version: 1, tags }, null, 2)}\n`))
  })
}
