import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname } from 'node:path'
import { openOutput } from '../bundle/output.js'
import { planBundle } from '../bundle/plan.js'
import type { BundleSpec } from '../bundle/spec.js'
import { blobPath, type TarEntrySource, writeTar } from '../bundle/tar-write.js'
import type { Context } from '../context.js'
import { FerryError } from '../errors.js'
import { serializeIndex } from '../layout/layout-files.js'
import { ledgerActor } from '../ledger/actor.js'
import { lineHash } from '../ledger/chain.js'
import { MediaType } from '../oci/media-types.js'
import { formatReference, parseRegistryReference, type RegistryReference } from '../reference/index.js'
import type { RegistryClient } from '../registry/index.js'
import type { Signer } from '../sign/signer.js'
import { collectFiles, openPackedFile } from './collect.js'
import { type EventFields, eventLine, GENESIS } from './custody.js'
import {
  CUSTODY_LOG_NAME,
  encodeSums,
  IMAGE_INDEX_NAME,
  IMAGES_DIR,
  parseTime,
  STATEMENT_NAME,
  STATEMENT_SIGNATURE_NAME,
  SUMS_NAME,
  sha256Hex,
  utcSeconds,
} from './format.js'
import { evidenceStatement, signBytes } from './statement.js'

export interface PackEvidenceOptions {
  /** Directories (or single files) whose regular files are packed under `files/BASENAME/`. */
  paths: readonly string[]
  /** Registry references; each is packed by digest with everything attached to it. */
  images?: readonly string[]
  case: string
  /** Default: `$FERRY_ACTOR`, the CI identity, else user@host (as the ledger names actors). */
  custodian?: string
  note?: string
  /** RFC 3339; default SOURCE_DATE_EPOCH; without either the pack is refused (never the clock). */
  capturedAt?: string
  output: string
  /** Signs the statement (its presence adds statement.intoto.json and its .sig). */
  signer?: Signer
  /** `ferry 0.1.0`, recorded in the custody event. */
  tool: string
  /** Default: this machine's host name. */
  host?: string
  env?: NodeJS.ProcessEnv
}

export interface PackEvidenceResult {
  file: string
  case: string
  capturedAt: string
  custodian: string
  files: number
  images: { reference: string; digest: string }[]
  entries: number
  size: number
  /** sha256 of the pack file. */
  sha256: string
  /** sha256 of SHA256SUMS. */
  sums: string
  /** The custody chain's head (the `captured` event's hash). */
  head: string
  signed: boolean
  /** False when a token signed (randomised ECDSA): two packs then differ in the signature entry. */
  reproducible: boolean
}

/** The capture time: `--captured-at`, else SOURCE_DATE_EPOCH; the clock would make every pack differ. */
export function captureTime(capturedAt: string | undefined, env: NodeJS.ProcessEnv): Date {
  if (capturedAt !== undefined) return parseTime(capturedAt, '--captured-at')
  const epoch = env.SOURCE_DATE_EPOCH
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch))
      throw new FerryError('USAGE', `SOURCE_DATE_EPOCH "${epoch}" is not a whole number of seconds`)
    return parseTime(new Date(Number(epoch) * 1000).toISOString(), 'SOURCE_DATE_EPOCH')
  }
  throw new FerryError(
    'USAGE',
    'evidence pack needs the capture time: --captured-at 2024-05-01T10:00:00Z or SOURCE_DATE_EPOCH (never the clock, so that packing the same evidence again gives the same bytes)',
  )
}

export function checkCaseId(id: string): string {
  if (id.trim() === '' || id.length > 256 || /\p{Cc}/u.test(id))
    throw new FerryError('USAGE', `case "${id}": one line of at most 256 characters, not empty`)
  return id
}

/** Each image by digest, with its referrers (signatures, SBOMs, attestations), as one OCI layout. */
async function imageEntries(
  refs: readonly string[],
  client: RegistryClient,
): Promise<{ entries: (TarEntrySource & { sha256: string })[]; images: PackEvidenceResult['images'] }> {
  if (refs.length === 0) return { entries: [], images: [] }
  const spec: BundleSpec = { name: 'evidence', version: '0', images: [] }
  const images: PackEvidenceResult['images'] = []
  for (const original of refs) {
    // A layout or a bundle is refused here: an evidence pack captures what a registry serves.
    const ref = parseRegistryReference(original)
    const digest = ref.digest ?? (await client.repository(ref).resolve(ref.tag ?? 'latest')).digest
    const { tag: _tag, ...repository } = ref
    const pinned: RegistryReference = { ...repository, digest }
    spec.images.push({ original, reference: pinned, referrers: true })
    images.push({ reference: formatReference(pinned), digest })
  }
  const plan = await planBundle(spec, {
    repository: (ref) => client.repository(ref),
  })
  const index = serializeIndex({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: plan.entries })
  const layout = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  const entries: (TarEntrySource & { sha256: string })[] = [
    { name: `${IMAGES_DIR}/oci-layout`, size: layout.byteLength, bytes: layout, sha256: sha256Hex(layout) },
    { name: IMAGE_INDEX_NAME, size: index.byteLength, bytes: index, sha256: sha256Hex(index) },
  ]
  for (const [digest, bytes] of plan.manifests) {
    entries.push({
      name: `${IMAGES_DIR}/${blobPath(digest)}`,
      size: bytes.byteLength,
      bytes,
      sha256: sha256Hex(bytes),
    })
  }
  for (const { desc, source } of plan.blobs.values()) {
    if (plan.manifests.has(desc.digest)) continue
    // SHA256SUMS needs the sha256 of every entry; a sha512 blob is read once more for it.
    const sha256 = desc.digest.startsWith('sha256:')
      ? desc.digest.slice('sha256:'.length)
      : await hashStream(await source.fetchBlob(desc))
    entries.push({
      name: `${IMAGES_DIR}/${blobPath(desc.digest)}`,
      size: desc.size,
      open: () => source.fetchBlob(desc),
      sha256,
    })
  }
  return { entries, images }
}

async function hashStream(body: AsyncIterable<unknown>): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of body) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

const byName = (a: { name: string }, b: { name: string }) =>
  Buffer.compare(Buffer.from(a.name), Buffer.from(b.name))

/**
 * `ferry evidence pack`: hashes every file, walks every image (manifests are small; blobs stream from
 * the registry when their turn comes), then writes the tar in one pass, in name order (format.ts). The
 * file appears under its name only when complete.
 */
export async function packEvidence(ctx: Context, opts: PackEvidenceOptions): Promise<PackEvidenceResult> {
  const env = opts.env ?? process.env
  const caseId = checkCaseId(opts.case)
  const captured = captureTime(opts.capturedAt, env)
  const time = utcSeconds(captured)
  const custodian = opts.custodian ?? ledgerActor(env)
  if (opts.paths.length === 0 && !opts.images?.length)
    throw new FerryError('USAGE', 'nothing to pack: give directories, --image references, or both')
  const outDir = dirname(opts.output)
  if (
    !(await stat(outDir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    throw new FerryError('USAGE', `cannot write ${opts.output}: ${outDir} is not a directory`)

  const files = await collectFiles(opts.paths, opts.output)
  const images = await imageEntries(opts.images ?? [], ctx.client)
  const host = opts.host ?? hostname()
  const event: EventFields = {
    time,
    action: 'captured',
    custodian,
    case: caseId,
    host,
    tool: opts.tool,
    ...(opts.note === undefined ? {} : { note: opts.note }),
  }
  const line = eventLine(event, 1, GENESIS)
  const head = lineHash(line)
  const log = Buffer.concat([line, Buffer.from('\n')])
  const listed: (TarEntrySource & { sha256: string })[] = [
    { name: CUSTODY_LOG_NAME, size: log.byteLength, bytes: log, sha256: sha256Hex(log) },
    ...files.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256, open: () => openPackedFile(f) })),
    ...images.entries,
  ].sort(byName)
  const sums = encodeSums(listed)
  const entries: TarEntrySource[] = [{ name: SUMS_NAME, size: sums.byteLength, bytes: sums }, ...listed]
  if (opts.signer) {
    const statement = evidenceStatement(sha256Hex(sums), head, {
      case: caseId,
      capturedAt: time,
      custodian,
      tool: opts.tool,
      host,
      files: files.length,
      images: images.images,
    })
    const signature = await signBytes(statement, opts.signer)
    entries.push(
      { name: STATEMENT_NAME, size: statement.byteLength, bytes: statement },
      { name: STATEMENT_SIGNATURE_NAME, size: signature.byteLength, bytes: signature },
    )
  }
  entries.sort(byName)
  const out = await openOutput(opts.output)
  let written: Awaited<ReturnType<typeof out.commit>>
  try {
    await writeTar(entries, out, { mtime: captured })
    written = await out.commit()
  } catch (err) {
    await out.abort()
    throw err
  }
  return {
    file: opts.output,
    case: caseId,
    capturedAt: time,
    custodian,
    files: files.length,
    images: images.images,
    entries: entries.length,
    size: written.size,
    sha256: written.sha256,
    sums: sha256Hex(sums),
    head,
    signed: opts.signer !== undefined,
    reproducible: opts.signer === undefined || opts.signer.deterministic,
  }
}
