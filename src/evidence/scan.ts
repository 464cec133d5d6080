import { createHash } from 'node:crypto'
import { SourceByteReader } from '../bundle/byte-reader.js'
import { openBundleSource } from '../bundle/source.js'
import { type BodyAction, readTar, type TarEntry } from '../bundle/tar-read.js'
import { FerryError } from '../errors.js'
import {
  CUSTODY_DIR,
  CUSTODY_LOG_NAME,
  FILES_DIR,
  IMAGE_INDEX_NAME,
  IMAGES_DIR,
  MAX_BYTES,
  nameProblem,
  STATEMENT_NAME,
  STATEMENT_SIGNATURE_NAME,
  SUMS_NAME,
} from './format.js'

/**
 * What an entry of a pack is, from its name: anything else is refused. `listed` kinds must appear in
 * SHA256SUMS; the others are covered by it through the statement or the custody chain.
 */
export type EntryKind =
  | { kind: 'sums' | 'custody-log' | 'statement' | 'statement-signature' | 'file' | 'image' }
  | { kind: 'event' | 'event-signature'; seq: number }

export const isListedKind = (k: EntryKind['kind']): boolean =>
  k === 'custody-log' || k === 'file' || k === 'image'

export interface ScannedEntry {
  name: string
  kind: EntryKind
  size: number
  /** Hex, when the scan hashed bodies. */
  sha256?: string
}

export interface ScannedPack {
  /** In tar order. */
  entries: ScannedEntry[]
  /** The small entries' bytes (SHA256SUMS, custody, statement, signatures) by name. */
  small: Map<string, Buffer>
  /** Where the end-of-archive marker starts: an append writes from here. */
  end: number
  size: number
}

const EVENT_RE = /^custody\/(\d{4,})\.json(\.sig)?$/

const refuse = (archive: string, why: string) =>
  new FerryError('VERIFY_FAILED', `${archive}: ${why}; refusing the evidence pack`)

function classify(entry: TarEntry, archive: string): EntryKind {
  const name = entry.name
  const problem = nameProblem(name)
  if (problem) throw refuse(archive, `entry "${name}" ${problem}`)
  if (entry.type !== 'file') {
    const what = entry.type === 'other' ? `an entry of tar type "${entry.typeflag}"` : `a ${entry.type}`
    throw refuse(archive, `entry "${name}" is ${what}; an evidence pack holds regular files only`)
  }
  if (name === SUMS_NAME) return { kind: 'sums' }
  if (name === CUSTODY_LOG_NAME) return { kind: 'custody-log' }
  if (name === STATEMENT_NAME) return { kind: 'statement' }
  if (name === STATEMENT_SIGNATURE_NAME) return { kind: 'statement-signature' }
  const event = EVENT_RE.exec(name)
  if (event) return { kind: event[2] ? 'event-signature' : 'event', seq: Number(event[1]) }
  if (name.startsWith(`${FILES_DIR}/`)) return { kind: 'file' }
  if (name.startsWith(`${IMAGES_DIR}/`)) return { kind: 'image' }
  throw refuse(
    archive,
    `entry "${name}" is not part of an evidence pack (${SUMS_NAME}, ${CUSTODY_LOG_NAME}, ${CUSTODY_DIR}/, ${FILES_DIR}/, ${IMAGES_DIR}/, ${STATEMENT_NAME})`,
  )
}

/** images/index.json is read too: `ls` and `verify` name the images from it. */
const IMAGE_INDEX = { name: IMAGE_INDEX_NAME, limit: 16 * 1024 * 1024 }

const LIMITS: Partial<Record<EntryKind['kind'], number>> = {
  sums: MAX_BYTES.sums,
  'custody-log': MAX_BYTES.custodyLog,
  statement: MAX_BYTES.statement,
  'statement-signature': MAX_BYTES.signature,
  event: MAX_BYTES.event,
  'event-signature': MAX_BYTES.signature,
}

/**
 * One pass over the tar (the bundle reader's: links, devices, pax tricks, truncation refused). Every
 * entry is classified before its body is touched; a name twice, or a small entry over its limit, is
 * refused. With `hash`, every body is read and hashed; without, only the small entries are read.
 */
export async function scanPack(path: string, opts: { hash: boolean }): Promise<ScannedPack> {
  const source = await openBundleSource(path)
  try {
    const archive = source.name
    const entries: ScannedEntry[] = []
    const small = new Map<string, Buffer>()
    const seen = new Set<string>()
    let end = 0
    const onEntry = (entry: TarEntry): BodyAction => {
      const kind = classify(entry, archive)
      if (seen.has(entry.name)) throw refuse(archive, `"${entry.name}" appears twice`)
      seen.add(entry.name)
      const scanned: ScannedEntry = { name: entry.name, kind, size: entry.size }
      entries.push(scanned)
      end = entry.offset + entry.size + ((512 - (entry.size % 512)) % 512)
      const limit = entry.name === IMAGE_INDEX.name ? IMAGE_INDEX.limit : LIMITS[kind.kind]
      if (limit !== undefined) {
        if (entry.size > limit)
          throw refuse(archive, `${entry.name} is ${entry.size} bytes, over the ${limit}-byte limit`)
        return {
          kind: 'collect',
          onBody: (body) => {
            small.set(entry.name, body)
            scanned.sha256 = createHash('sha256').update(body).digest('hex')
          },
        }
      }
      if (!opts.hash) return { kind: 'skip' }
      const hash = createHash('sha256')
      return {
        kind: 'stream',
        onChunk: (chunk) => hash.update(chunk),
        onEnd: () => {
          scanned.sha256 = hash.digest('hex')
        },
      }
    }
    await readTar(new SourceByteReader(source, opts.hash), archive, onEntry)
    return { entries, small, end, size: source.size }
  } finally {
    await source.close()
  }
}
