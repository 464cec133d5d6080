/**
 * `ferry inventory`: what a registry (or OCI layout) on the closed side already holds, written to a file
 * that is carried back to the connected side, so `bundle create --against` leaves those blobs out.
 *
 *   { "formatVersion": 1, "source": "reg.local:5000/cache", "created": "…",
 *     "repositories": [ { "name": "cache/library/postgres", "tags": { "16": "sha256:…" },
 *                         "manifests": ["sha256:…"], "blobs": [ { "digest": "sha256:…", "size": 123 } ] } ],
 *     "skipped": [ { "repository": "…", "tag": "…", "reason": "…" } ] }
 *
 * Repository names are paths on that registry (no host). Manifests are every manifest reachable from a
 * tag (index children, referrers found through the referrers API or tag schema); blobs are what those
 * manifests name. A tag that cannot be read is listed under `skipped`: an inventory that knows less only
 * makes the next bundle larger, never wrong, since import checks the blobs a delta leaves out.
 */

import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import type { ReadOnlyTarget } from '../content/target.js'
import type { Context } from '../context.js'
import { FerryError, isFerryError } from '../errors.js'
import { closure } from '../graph/index.js'
import { OciLayout } from '../layout/index.js'
import { type Digest, digestOf } from '../oci/digest.js'
import { digestSchema } from '../oci/schemas.js'
import { isRepositoryName } from '../reference/grammar.js'
import { parsePrefixLocation } from '../reference/index.js'
import { createdTimestamp } from '../supply/annotations.js'
import { writeFileAtomic } from '../util/files.js'
import { forEachLimited, Limiter } from '../util/limit.js'
import { encodeJson, SIDE_FILE_FORMAT_VERSION } from './format.js'

const repositorySchema = z.looseObject({
  name: z.string(),
  tags: z.record(z.string(), digestSchema),
  manifests: z.array(digestSchema),
  blobs: z.array(z.looseObject({ digest: digestSchema, size: z.number().int().nonnegative() })),
})

export const inventorySchema = z.looseObject({
  formatVersion: z.literal(SIDE_FILE_FORMAT_VERSION, {
    message: `unsupported inventory: this ferry reads formatVersion ${SIDE_FILE_FORMAT_VERSION}`,
  }),
  source: z.string(),
  created: z.string(),
  repositories: z.array(repositorySchema),
  skipped: z
    .array(z.looseObject({ repository: z.string(), tag: z.string().optional(), reason: z.string() }))
    .default([]),
})
export type Inventory = z.infer<typeof inventorySchema>
type RepositoryInventory = z.infer<typeof repositorySchema>

export interface InventoryOptions {
  /** Tags read at once. Default 4. */
  concurrency?: number
}

/** Inventories `HOST[:PORT][/PREFIX]` (every repository under the prefix) or `oci:DIR` (every repository view). */
export async function createInventory(
  ctx: Context,
  where: string,
  opts: InventoryOptions = {},
): Promise<Inventory> {
  const limiter = new Limiter(opts.concurrency ?? 4)
  const skipped: Inventory['skipped'] = []
  let repositories: RepositoryInventory[]
  const at = parsePrefixLocation(where)
  if (at.kind === 'layout') {
    const layout = await OciLayout.open(at.path)
    const names = [...(await layout.repositories())]
    if ((await layout.target().listTags()).length > 0) names.unshift('')
    repositories = await inventoryAll(names, (n) => layout.target(n === '' ? undefined : n), limiter, skipped)
  } else {
    const { prefix: path } = at
    const { client } = ctx
    const names = (await client.catalog(at)).filter(
      (r) => path === '' || r === path || r.startsWith(`${path}/`),
    )
    // Names from the registry's catalog: only what the grammar allows goes into a URL path.
    const open = (repository: string) => {
      if (!isRepositoryName(repository)) {
        throw new FerryError('REFERENCE_INVALID', `invalid repository name "${repository}" on ${at.registry}`)
      }
      return client.repository({ ...at, repository })
    }
    repositories = await inventoryAll(names.sort(), open, limiter, skipped)
  }
  return {
    formatVersion: SIDE_FILE_FORMAT_VERSION,
    source: where,
    created: createdTimestamp(),
    repositories,
    skipped,
  }
}

async function inventoryAll(
  names: string[],
  open: (name: string) => ReadOnlyTarget,
  limiter: Limiter,
  skipped: Inventory['skipped'],
): Promise<RepositoryInventory[]> {
  const out: RepositoryInventory[] = []
  for (const name of names) out.push(await inventoryRepository(name, open(name), limiter, skipped))
  return out
}

async function inventoryRepository(
  name: string,
  target: ReadOnlyTarget,
  limiter: Limiter,
  skipped: Inventory['skipped'],
): Promise<RepositoryInventory> {
  const tags: Record<string, string> = {}
  const manifests = new Set<string>()
  const blobs = new Map<string, number>()
  const list = await target.listTags()
  await forEachLimited(list, limiter, async (tag) => {
    try {
      const root = await target.fetchManifest(tag)
      tags[tag] = root.digest
      const found = await closure(target, root, { referrers: true, includeNondistributable: true })
      for (const g of [found.graph, ...found.graphs]) for (const m of g.manifests) manifests.add(m.digest)
      for (const [d, b] of found.blobs) blobs.set(d, b.size)
    } catch (err) {
      if (!isFerryError(err) || err.code === 'UNAUTHORIZED' || err.code === 'NETWORK') throw err
      skipped.push({ repository: name, tag, reason: err.message })
    }
  })
  const sortedTags = Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  return {
    name,
    tags: sortedTags,
    manifests: [...manifests].sort(),
    blobs: [...blobs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([digest, size]) => ({ digest, size })),
  } as RepositoryInventory
}

export async function writeInventory(path: string, inventory: Inventory): Promise<void> {
  await writeFileAtomic(path, encodeJson(inventory))
}

/** Reads and validates an inventory file; its digest identifies it in a delta's ferry-bundle.json. */
export async function loadInventory(path: string): Promise<{ inventory: Inventory; digest: Digest }> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (err) {
    throw new FerryError(
      'USAGE',
      `cannot read inventory ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    )
  }
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new FerryError('USAGE', `${path}: not valid JSON`)
  }
  const parsed = inventorySchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new FerryError(
      'USAGE',
      `${path}: not a ferry inventory at ${issue?.path.join('.') || 'top level'}: ${issue?.message}`,
    )
  }
  return { inventory: parsed.data, digest: digestOf(bytes) }
}
