import type { z } from 'zod'
import { FerryError } from '../errors.js'
import { type Digest, Hasher, isDigest, parseDigest } from '../oci/digest.js'
import type { ProgressSink } from '../progress.js'
import { SourceByteReader } from './byte-reader.js'
import {
  type BundleMetadata,
  bundleMetadataSchema,
  INDEX_NAME,
  MAX_JSON_BYTES,
  METADATA_NAME,
  OCI_LAYOUT_NAME,
} from './format.js'
import type { BundleSource } from './source.js'
import { type BodyAction, readTar, type TarEntry } from './tar-read.js'

export interface BlobLocation {
  offset: number
  size: number
}

export interface ScannedBundle {
  /** The JSON files (and the signature) by name, exact bytes. */
  files: Map<string, Buffer>
  metadata: BundleMetadata
  /** Every blob in the tar with its body's offset; empty after a metadata-only read. */
  blobs: Map<Digest, BlobLocation>
}

export interface ScanOptions {
  /** `verify` reads and hashes every byte; `metadata` reads the JSON files at the front and stops. */
  mode: 'verify' | 'metadata'
  /** Blob bytes as the verifying pass reads and hashes them (`advance` events of phase `verify`). */
  progress?: ProgressSink
  /** What the events name: the bundle file. */
  subject?: string
}

const REQUIRED = [OCI_LAYOUT_NAME, METADATA_NAME, INDEX_NAME]
const BLOB_RE = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/
const ALLOWED_DIRS = new Set(['', 'blobs', 'blobs/sha256', 'blobs/sha512'])

type Classified = { kind: 'json'; name: string } | { kind: 'blob'; digest: Digest } | { kind: 'dir' }

const refuse = (archive: string, why: string) =>
  new FerryError('VERIFY_FAILED', `${archive}: ${why}; refusing the bundle`)

/** What an entry is, or an error for anything a bundle must not hold. */
export function classifyEntry(entry: TarEntry, archive: string): Classified {
  const raw = entry.name
  if (raw.startsWith('/')) throw refuse(archive, `entry "${raw}" has an absolute path`)
  const parts = raw.split('/')
  if (parts.includes('..')) throw refuse(archive, `entry "${raw}" has a ".." path component`)
  if (/[\0\\]/.test(raw)) throw refuse(archive, `entry "${raw}" has a NUL or backslash in its name`)
  let name = raw
  while (name.startsWith('./')) name = name.slice(2)
  if (name === '.') name = ''
  if (entry.type === 'directory') {
    if (ALLOWED_DIRS.has(name.replace(/\/$/, ''))) return { kind: 'dir' }
    throw refuse(archive, `directory "${raw}" is not part of an OCI image layout`)
  }
  if (entry.type !== 'file') {
    const what = entry.type === 'other' ? `an entry of tar type "${entry.typeflag}"` : `a ${entry.type}`
    throw refuse(archive, `entry "${raw}" is ${what}; a bundle holds regular files only`)
  }
  if (Object.hasOwn(MAX_JSON_BYTES, name)) return { kind: 'json', name }
  const blob = BLOB_RE.exec(name)
  if (blob) {
    const digest = `${blob[1]}:${blob[2]}`
    if (isDigest(digest)) return { kind: 'blob', digest }
  }
  throw refuse(
    archive,
    `file "${raw}" is outside the OCI image layout (oci-layout, index.json, blobs/ALG/HEX, ferry-bundle.json)`,
  )
}

export function parseJsonFile<T>(bytes: Buffer, name: string, archive: string, schema: z.ZodType<T>): T {
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new FerryError('VERIFY_FAILED', `${archive}: ${name} is not valid JSON`)
  }
  const parsed = schema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw new FerryError('VERIFY_FAILED', `${archive}: ${name} is invalid${where}: ${issue?.message}`)
  }
  return parsed.data
}

/**
 * One pass over the tar. Every entry is checked before its body is touched (names, types, duplicates,
 * JSON sizes, blobs the metadata does not list); in `verify` mode every blob is hashed as it streams
 * and must match its name, and the listing must match the blobs present exactly.
 */
export async function scanBundle(source: BundleSource, opts: ScanOptions): Promise<ScannedBundle> {
  const archive = source.name
  const files = new Map<string, Buffer>()
  const blobs = new Map<Digest, BlobLocation>()
  const seen = new Set<string>()
  let metadata: BundleMetadata | undefined
  let listed: Map<string, number> | undefined

  const onEntry = (entry: TarEntry): BodyAction => {
    const what = classifyEntry(entry, archive)
    if (what.kind === 'dir') return { kind: 'skip' }
    const key = what.kind === 'json' ? what.name : what.digest
    if (seen.has(key)) throw refuse(archive, `"${entry.name}" appears twice`)
    seen.add(key)
    if (what.kind === 'json') {
      const limit = MAX_JSON_BYTES[what.name]!
      if (entry.size > limit)
        throw refuse(archive, `${what.name} is ${entry.size} bytes, over the ${limit}-byte limit`)
      return {
        kind: 'collect',
        onBody: (body) => {
          files.set(what.name, body)
          if (what.name === METADATA_NAME) {
            metadata = parseJsonFile(body, METADATA_NAME, archive, bundleMetadataSchema)
            listed = new Map(metadata.blobs.map((b) => [b.digest, b.size]))
          }
        },
      }
    }
    if (opts.mode === 'metadata')
      return REQUIRED.every((n) => files.has(n)) ? { kind: 'stop' } : { kind: 'skip' }
    checkListed(what.digest, entry.size, listed, archive)
    blobs.set(what.digest, { offset: entry.offset, size: entry.size })
    const hasher = new Hasher(parseDigest(what.digest).algorithm)
    return {
      kind: 'stream',
      onChunk: (chunk) => {
        hasher.update(chunk)
        opts.progress?.({
          type: 'advance',
          phase: 'verify',
          subject: opts.subject ?? '',
          done: chunk.byteLength,
        })
      },
      onEnd: () => {
        const got = hasher.digest()
        if (got !== what.digest) {
          throw new FerryError(
            'DIGEST_MISMATCH',
            `${archive}: blob ${what.digest}${source.where(entry.offset, entry.size)} is corrupt (its content digest is ${got})`,
          )
        }
      },
    }
  }

  await readTar(new SourceByteReader(source, opts.mode === 'verify'), archive, onEntry)

  for (const name of REQUIRED) {
    if (!files.has(name)) throw refuse(archive, `${name} is missing (not a ferry bundle)`)
  }
  if (opts.mode === 'verify') {
    for (const [digest, size] of listed ?? []) {
      if (!blobs.has(digest as Digest)) {
        throw new FerryError(
          'VERIFY_FAILED',
          `${archive}: blob ${digest} (${size} bytes) listed in ${METADATA_NAME} is missing`,
        )
      }
    }
    for (const [digest, loc] of blobs) checkListed(digest, loc.size, listed, archive)
  }
  return { files, metadata: metadata!, blobs }
}

function checkListed(
  digest: string,
  size: number,
  listed: Map<string, number> | undefined,
  archive: string,
): void {
  if (!listed) return // the metadata comes later in this tar; checked at the end
  const want = listed.get(digest)
  if (want === undefined) throw refuse(archive, `blob ${digest} is not listed in ${METADATA_NAME}`)
  if (want !== size) {
    throw new FerryError(
      'SIZE_INVALID',
      `${archive}: blob ${digest} is ${size} bytes, ${METADATA_NAME} says ${want}`,
    )
  }
}
