/**
 * A strict reader of POSIX ustar / pax / GNU tar headers (POSIX.1-2001 `pax` and GNU tar's manual,
 * "Basic Tar Format"). Written for bundles rather than taken from tar-stream because a bundle reader
 * needs each entry's byte offset (to serve blobs straight from the file afterwards) and must see every
 * header as it is, to refuse links, devices and tricks with names instead of extracting them.
 */
import { FerryError } from '../errors.js'
import type { ByteReader } from './byte-reader.js'

const BLOCK = 512
const MAX_PAX_BYTES = 64 * 1024
const MAX_LONGNAME_BYTES = 4096

export type EntryType =
  | 'file'
  | 'directory'
  | 'hardlink'
  | 'symlink'
  | 'char-device'
  | 'block-device'
  | 'fifo'
  | 'other'

export interface TarEntry {
  name: string
  type: EntryType
  /** The raw typeflag, for messages about types no bundle holds. */
  typeflag: string
  size: number
  /** Offset of the first body byte in the archive. */
  offset: number
}

/** What the caller wants done with an entry's body. */
export type BodyAction =
  | { kind: 'skip' }
  | { kind: 'stream'; onChunk: (chunk: Buffer) => void; onEnd: () => void }
  | { kind: 'collect'; onBody: (body: Buffer) => void }
  | { kind: 'stop' }

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '5': 'directory',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '6': 'fifo',
}

function fail(name: string, why: string): FerryError {
  return new FerryError('VERIFY_FAILED', `${name}: ${why}`)
}

function cstring(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length)
  const nul = field.indexOf(0)
  return field.subarray(0, nul < 0 ? length : nul).toString('utf8')
}

/** Octal, or base-256 (high bit of the first byte set) for sizes over 8 GiB as GNU tar and tar-stream write them. */
function number(buf: Buffer, start: number, length: number): number | undefined {
  const field = buf.subarray(start, start + length)
  if (field[0]! & 0x80) {
    if (field[0] !== 0x80) return undefined // negative or beyond 2^53: no real bundle
    let value = 0
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!
    return Number.isSafeInteger(value) ? value : undefined
  }
  const text = cstring(buf, start, length).trim()
  if (text === '') return 0
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : undefined
}

function checksumOk(header: Buffer): boolean {
  const stored = number(header, 148, 8)
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]!
    unsigned += b
    signed += b > 127 ? b - 256 : b
  }
  return stored === unsigned || stored === signed
}

/** pax extended header records: `LEN KEY=VALUE\n`. A key given twice is refused: readers differ on which wins. */
function parsePax(body: Buffer, archive: string, at: number): Map<string, string> {
  const out = new Map<string, string>()
  let pos = 0
  while (pos < body.byteLength) {
    const space = body.indexOf(0x20, pos)
    const length = space < 0 ? Number.NaN : Number(body.subarray(pos, space).toString('ascii'))
    if (!Number.isInteger(length) || length <= 0 || pos + length > body.byteLength) {
      throw fail(archive, `malformed pax extended header at byte ${at + BLOCK + pos}`)
    }
    const record = body.subarray(space + 1, pos + length - 1).toString('utf8')
    const eq = record.indexOf('=')
    if (eq <= 0) throw fail(archive, 'malformed pax extended header record')
    const key = record.slice(0, eq)
    if (out.has(key)) throw fail(archive, `pax extended header at byte ${at} sets "${key}" twice`)
    out.set(key, record.slice(eq + 1))
    pos += length
  }
  return out
}

/**
 * pax keys that decide an entry's name or where its body ends. Every reader must see the same archive
 * as this one, or a bundle that verifies here extracts as something else there (tar, skopeo, umoci).
 */
const LOCATING_KEYS = ['path', 'size', 'linkpath']
const isLocating = (key: string) => LOCATING_KEYS.includes(key) || key.startsWith('GNU.sparse.')

/**
 * A global header's `path` or `size` applies to every later entry for some readers (GNU tar) and to
 * none for others (Go's archive/tar hands it over as an entry of its own); sparse-file keys make tar
 * rebuild a different file from the body than the bytes hashed here. Defaults such as mtime or a
 * comment (git archive writes one) change nothing a bundle depends on.
 */
function checkGlobal(records: Map<string, string>, archive: string, at: number): void {
  const key = [...records.keys()].find(isLocating)
  if (key !== undefined) {
    throw fail(
      archive,
      `pax global header at byte ${at} sets "${key}"; a bundle's names and sizes are given per entry`,
    )
  }
}

/**
 * The pax `path` of an entry, once its other records are checked: a size that is not a plain number or
 * differs from the ustar header's would let a reader that honours pax and one that does not split the
 * archive at different places (one reads a body where the other reads headers). ferry writes sizes
 * over 8 GiB in base-256 (as GNU tar does), never as a pax record that disagrees.
 */
function paxPath(
  pax: Map<string, string>,
  headerSize: number,
  archive: string,
  at: number,
): string | undefined {
  const sparse = [...pax.keys()].find((k) => k.startsWith('GNU.sparse.'))
  if (sparse !== undefined)
    throw fail(archive, `entry at byte ${at} is a sparse file ("${sparse}"); a bundle holds plain files only`)
  const size = pax.get('size')
  if (size !== undefined && (!/^\d+$/.test(size) || Number(size) !== headerSize)) {
    throw fail(
      archive,
      `entry at byte ${at}: pax size "${size}" disagrees with its tar header (${headerSize} bytes)`,
    )
  }
  return pax.get('path')
}

/** A body of `size` bytes; running out of input here is truncation, never a clean end. */
async function readBody(reader: ByteReader, size: number, archive: string): Promise<Buffer> {
  const at = reader.position
  const body = await reader.read(size)
  if (body === undefined)
    throw fail(archive, `truncated at byte ${at} (the tar ends in the middle of an entry)`)
  return body
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK

/**
 * Walks the archive, calling `onEntry` for every real entry (pax and GNU long-name headers are applied,
 * not reported). Ends at the end-of-archive block, which must be there: input that simply stops is
 * truncated. Bytes after that block must be zero padding.
 */
export async function readTar(
  reader: ByteReader,
  archive: string,
  onEntry: (entry: TarEntry) => BodyAction | Promise<BodyAction>,
): Promise<'end' | 'stopped'> {
  let pax: Map<string, string> | undefined
  let longName: string | undefined
  /** Where the extended headers waiting for their entry began: at most one of each kind per entry. */
  let pendingAt: number | undefined
  for (;;) {
    const at = reader.position
    const header = await reader.read(BLOCK)
    if (!header) throw fail(archive, `truncated: no end-of-archive marker after byte ${at}`)
    if (header.every((b) => b === 0)) {
      if (pendingAt !== undefined)
        throw fail(archive, `the extended tar header at byte ${pendingAt} has no entry after it`)
      if (!(await reader.restIsZero())) throw fail(archive, 'unexpected data after the end-of-archive marker')
      return 'end'
    }
    if (!checksumOk(header)) {
      throw fail(
        archive,
        at === 0
          ? 'not a tar archive (bundles are plain, uncompressed tar files)'
          : `corrupt tar header at byte ${at} (checksum mismatch)`,
      )
    }
    const magic = header.subarray(257, 263).toString('latin1')
    const posix = magic === 'ustar\0'
    if (!posix && magic !== 'ustar ') throw fail(archive, `unsupported tar format at byte ${at} (not ustar)`)
    const typeflag = String.fromCharCode(header[156]!)
    const size = number(header, 124, 12)
    if (size === undefined) throw fail(archive, `corrupt size field in the tar header at byte ${at}`)

    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L') {
      const limit = typeflag === 'L' ? MAX_LONGNAME_BYTES : MAX_PAX_BYTES
      if (size > limit)
        throw fail(archive, `extended tar header at byte ${at} is ${size} bytes, over ${limit}`)
      const body = await readBody(reader, size, archive)
      await reader.forward(padding(size))
      if (typeflag === 'g') {
        checkGlobal(parsePax(body, archive, at), archive, at)
        continue
      }
      // Two for one entry: some readers merge them, some keep the last, and a pax path beside a GNU
      // long name is a third way to name it.
      if (pax !== undefined || longName !== undefined)
        throw fail(archive, `tar headers at bytes ${pendingAt} and ${at} both extend one entry`)
      if (typeflag === 'x') pax = parsePax(body, archive, at)
      else longName = cstring(body, 0, body.byteLength)
      pendingAt = at
      continue
    }

    const prefix = posix ? cstring(header, 345, 155) : ''
    const base = cstring(header, 0, 100)
    const name = (pax && paxPath(pax, size, archive, at)) ?? longName ?? (prefix ? `${prefix}/${base}` : base)
    pax = undefined
    longName = undefined
    pendingAt = undefined

    const entry: TarEntry = {
      name,
      type: TYPES[typeflag] ?? 'other',
      typeflag,
      size,
      offset: reader.position,
    }
    const action = await onEntry(entry)
    // Links, directories and devices have no body whatever their size field says (tar's own rule).
    const bodySize = entry.type === 'file' || entry.type === 'other' ? size : 0
    if (action.kind === 'stop') return 'stopped'
    if (action.kind === 'collect') {
      action.onBody(await readBody(reader, bodySize, archive))
    } else if (action.kind === 'stream') {
      await reader.forward(bodySize, action.onChunk)
      action.onEnd()
    } else {
      await reader.forward(bodySize)
    }
    await reader.forward(padding(bodySize))
  }
}
