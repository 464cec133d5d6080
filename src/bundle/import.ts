import type { KeyObject } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { canMount } from '../content/capabilities.js'
import { resolveIfPresent } from '../content/present.js'
import type { ReadOnlyTarget, Target } from '../content/target.js'
import type { Context } from '../context.js'
import { copyImage } from '../copy/copy.js'
import { FerryError } from '../errors.js'
import { type AdmittedWrite, admitWrite, type Governance, governs } from '../governance/governed.js'
import { OciLayout } from '../layout/index.js'
import type { Digest } from '../oci/digest.js'
import { type KeySet, singleKeySet } from '../sign/key-set.js'
import type { SignatureKey } from '../sign/trust.js'
import { Limiter } from '../util/limit.js'
import type { ImageRecord } from './format.js'
import {
  type BundleOrder,
  defaultImportRecordPath,
  describeOrder,
  type ImportRecord,
  isOlder,
  orderOf,
  readImportRecord,
  recordImport,
  tagKey,
} from './import-record.js'
import {
  type Destination,
  destinationPath,
  formatDestination,
  type MappingOptions,
  parseDestination,
} from './mapping.js'
import { checkImageNames } from './names.js'
import { checkOmittedPresent, type MountPlan } from './omitted-check.js'
import { BundleReader } from './reader.js'
import type { SignatureState } from './signature.js'

export interface ImportBundleOptions extends MappingOptions {
  /** `HOST[:PORT]`, `HOST[:PORT]/PREFIX` or `oci:DIR`. */
  to: string
  /** Require ferry-bundle.json.sig to verify with this key. */
  publicKey?: KeyObject
  /** As `publicKey`, with several keys and the trust decision: a bundle signed with a revoked key is refused. */
  keys?: KeySet
  /** Move tags that a newer bundle set back to this (older) bundle's images, instead of refusing. */
  allowDowngrade?: boolean
  /** What earlier imports set each tag to (import-record.ts). Default `$XDG_STATE_HOME/ferry/bundle-imports.json`. */
  importRecord?: string
  /** Blobs in flight at once. Default 4. */
  concurrency?: number
  /**
   * The destination's policy and the ledger: every image is judged before anything is written (one
   * refused image refuses the import, POLICY_VIOLATION), and each one imported is recorded.
   */
  governance?: Governance
}

export interface ImportedImage {
  source: string
  /** `reg.local:5000/cache/library/postgres:16` (or `…@sha256:…` for an image without a tag). */
  destination: string
  digest: Digest
  /** The digest reference to deploy: `reg.local:5000/cache/library/postgres@sha256:…`. */
  pinned: string
  blobs: { copied: number; skipped: number; mounted: number }
  manifestsPushed: number
  referrers: number
  bytes: number
}

/** A tag moved back, with --allow-downgrade, from a newer bundle's image to this bundle's. */
export interface Downgrade {
  /** `reg.local:5000/cache/library/postgres:16`. */
  destination: string
  /** What the tag held, set by the `previous` bundle. */
  from: Digest
  to: Digest
  previous: BundleOrder
}

export interface ImportResult {
  file: string
  name: string
  version: string
  sequence?: number
  created: string
  to: string
  signature: SignatureState
  /** The key the bundle's signature verified with. */
  signer?: SignatureKey
  images: ImportedImage[]
  downgraded: Downgrade[]
  bytes: number
  durationMs: number
}

/**
 * Upload chunk size `ferry bundle import` gives its context's client (`chunkSize`): each blob in flight
 * holds one chunk in memory (so that an interrupted chunk can be sent again), so `concurrency` × this
 * bounds what an import holds. A closed-side registry is usually a LAN away, where the extra PATCH round
 * trips cost little.
 */
export const IMPORT_CHUNK_SIZE = 8 * 1024 * 1024

interface Placed {
  image: ImageRecord
  path: string
}

/**
 * `ferry bundle import`: verifies the whole bundle first (every blob, index.json, metadata, signature
 * when a key is given), then checks that the destination holds every blob a delta leaves out and that
 * no tag would move back to an older bundle's image (import-record.ts), and only then writes anything:
 * one byte-for-byte copy per image from the bundle, referrers included. Blobs the destination already
 * has are skipped, so an interrupted import re-run picks up where it stopped.
 */
export async function importBundle(
  ctx: Context,
  file: string,
  opts: ImportBundleOptions,
): Promise<ImportResult> {
  const started = performance.now()
  const dest = parseDestination(opts.to)
  const { client, logger, progress } = ctx
  // The verifying pass (phase `verify`), then each image's copy (phase `copy`), through one sink.
  const bundle = await BundleReader.open(file, {
    keys: opts.keys ?? (opts.publicKey && singleKeySet(opts.publicKey)),
    progress,
  })
  try {
    checkImageNames(file, bundle.metadata)
    const placed: Placed[] = bundle.metadata.images.map((image) => ({
      image,
      path: destinationPath(dest, image.repository, image.destination, opts),
    }))
    checkCollisions(placed, dest)
    const existing = dest.kind === 'layout' ? await openExistingLayout(dest.path) : undefined
    const open = (path: string): Target | undefined =>
      dest.kind === 'registry' ? client.repository({ ...dest, repository: path }) : existing?.target(path)
    const mounts = await checkOmittedPresent(bundle, placed, dest, open, opts)
    const recordPath = opts.importRecord ?? defaultImportRecordPath()
    const order = orderOf(bundle.metadata)
    const downgrades = await findDowngrades(placed, dest, order, await readImportRecord(recordPath), open)
    if (downgrades.length > 0 && !opts.allowDowngrade) throw downgradeRefused(downgrades, order)
    const admitted = new Map<Placed, AdmittedWrite>()
    if (governs(opts.governance)) {
      for (const p of placed) {
        const content = bundle.target(p.image.repository)
        const repository = dest.kind === 'registry' ? { host: dest.registry } : {}
        admitted.set(
          p,
          await admitWrite(opts.governance, {
            operation: 'bundle-import',
            source: `${file} (${p.image.source})`,
            name: { ...repository, repository: p.path, ...(p.image.tag ? { tag: p.image.tag } : {}) },
            manifest: await content.fetchManifest(p.image.tag ?? p.image.digest),
            content,
            destination: open(p.path),
          }),
        )
      }
    }

    // Verified and complete: from here on the destination is written.
    let target: (path: string) => Target
    if (dest.kind === 'layout') {
      const layout = existing ?? (await OciLayout.open(dest.path, { create: true }))
      target = (path) => layout.target(path)
    } else target = (path) => client.repository({ ...dest, repository: path })
    const limiter = new Limiter(opts.concurrency ?? 4)
    const images: ImportedImage[] = []
    for (const p of placed) {
      const { image, path } = p
      const judged = admitted.get(p)
      const to = target(path)
      await applyMounts(mounts.get(path) ?? [], to, target)
      const result = await copyImage(
        bundle.target(image.repository),
        image.tag ?? image.digest,
        to,
        image.tag,
        {
          referrers: true,
          limiter,
          progress,
          logger,
          ...(judged?.precondition ? { tagPrecondition: judged.precondition } : {}),
        },
      )
      await judged?.record()
      if (image.tag !== undefined) {
        const entry = {
          ...order,
          digest: result.destination.digest,
          metadata: bundle.metadataDigest,
          imported: new Date().toISOString(),
        }
        // The image is in place either way; without the record only the next rollback check is weaker.
        await recordImport(recordPath, tagKey(dest, path, image.tag), entry).catch((err: unknown) =>
          logger.warn(`${recordPath}: import of ${image.source} not recorded (${(err as Error).message})`),
        )
      }
      const name = formatDestination(dest, path)
      images.push({
        source: image.source,
        destination:
          image.tag === undefined ? `${name}@${result.destination.digest}` : `${name}:${image.tag}`,
        digest: result.destination.digest,
        pinned: `${name}@${result.destination.digest}`,
        blobs: { copied: result.blobs.copied, skipped: result.blobs.skipped, mounted: result.blobs.mounted },
        manifestsPushed: result.manifests.pushed,
        referrers: result.referrers,
        bytes: result.bytes,
      })
    }
    return {
      file,
      name: bundle.metadata.name,
      version: bundle.metadata.version,
      ...(order.sequence === undefined ? {} : { sequence: order.sequence }),
      created: order.created,
      to: opts.to,
      signature: bundle.signature,
      ...(bundle.signer ? { signer: bundle.signer } : {}),
      images,
      downgraded: downgrades,
      bytes: images.reduce((n, i) => n + i.bytes, 0),
      durationMs: Math.round(performance.now() - started),
    }
  } finally {
    await bundle.close()
  }
}

/** Two images mapped onto one tag (say, by --strip-components) would overwrite each other: refused up front. */
function checkCollisions(placed: readonly Placed[], dest: Destination): void {
  const seen = new Map<string, Placed>()
  for (const p of placed) {
    if (p.image.tag === undefined) continue
    const key = `${p.path}:${p.image.tag}`
    const other = seen.get(key)
    if (other && other.image.digest !== p.image.digest) {
      throw new FerryError(
        'USAGE',
        `${other.image.source} and ${p.image.source} would both become ${formatDestination(dest, p.path)}:${p.image.tag}; map one elsewhere (--mapping)`,
      )
    }
    seen.set(key, p)
  }
}

/**
 * The tags this bundle would move back: the destination still holds what a newer bundle set there (a tag
 * moved since by anyone else, or gone, no longer speaks for that bundle), and this one names another image.
 */
async function findDowngrades(
  placed: readonly Placed[],
  dest: Destination,
  order: BundleOrder,
  record: ImportRecord,
  open: (path: string) => ReadOnlyTarget | undefined,
): Promise<Downgrade[]> {
  const found: Downgrade[] = []
  for (const { image, path } of placed) {
    if (image.tag === undefined) continue
    const held = record[tagKey(dest, path, image.tag)]
    if (!held || held.digest === image.digest || !isOlder(order, held)) continue
    const target = open(path)
    const current = target && (await resolveIfPresent(target, image.tag))
    if (current?.digest !== held.digest) continue
    found.push({
      destination: `${formatDestination(dest, path)}:${image.tag}`,
      from: held.digest,
      to: image.digest,
      previous: orderOf(held),
    })
  }
  return found
}

function downgradeRefused(downgrades: readonly Downgrade[], order: BundleOrder): FerryError {
  const d = downgrades[0]!
  const more = downgrades.length > 1 ? ` (and ${downgrades.length - 1} more tags)` : ''
  return new FerryError(
    'POLICY_VIOLATION',
    `${d.destination}: bundle ${describeOrder(order)} is older than bundle ${describeOrder(d.previous)}, which set the tag to ${d.from}; refusing to move it back to ${d.to}${more} (--allow-downgrade imports it anyway)`,
  )
}

/** The layout when the directory already is one; nothing is created before the bundle is known good. */
async function openExistingLayout(path: string): Promise<OciLayout | undefined> {
  const isDir = await stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )
  return isDir ? OciLayout.open(path).catch(() => undefined) : undefined
}

/** Blobs a delta left out that the destination holds in another repository: mounted, else copied across. */
async function applyMounts(mounts: MountPlan[], to: Target, target: (path: string) => Target): Promise<void> {
  for (const m of mounts) {
    if (await to.hasBlob(m.desc)) continue
    const from = target(m.from)
    if (canMount(to) && (await to.mountBlob(m.desc, from))) continue
    await to.pushBlob(m.desc, await from.fetchBlob(m.desc))
  }
}
