/**
 * The evidence pack: one plain tar, written reproducibly (sorted names, mode 0644, uid/gid 0, every
 * mtime the capture time), holding
 *
 *   SHA256SUMS                 `HEX  NAME` per entry, sorted: what `sha256sum -c SHA256SUMS` checks after
 *                              `tar -x`. Lists every entry but itself, the statement and its signature,
 *                              and the custody events appended later (those chain to custody.jsonl).
 *   custody.jsonl              the chain of custody as packed: the `captured` event (custody.ts)
 *   files/BASENAME/…           the regular files of each directory packed
 *   images/                    one OCI image layout: each image by digest (ref.name REPO@sha256:HEX) with
 *                              its signatures, SBOMs and attestations
 *   statement.intoto.json      with a key: an in-toto statement naming SHA256SUMS and the custody head
 *   statement.intoto.json.sig  its signature: base64 of ECDSA P-256 over SHA-256 of the statement's
 *                              exact bytes, DER (the encoding of `cosign sign-blob`; openssl checks it)
 *
 * and, after the end of what `pack` wrote, one `custody/NNNN.json` per event `custody` appended (NNNN its
 * position in the chain), each with `custody/NNNN.json.sig` when signed. An append copies the entries
 * before it byte for byte, so SHA256SUMS and the statement keep verifying.
 */
import { createHash } from 'node:crypto'
import { FerryError } from '../errors.js'

export const SUMS_NAME = 'SHA256SUMS'
export const CUSTODY_LOG_NAME = 'custody.jsonl'
export const STATEMENT_NAME = 'statement.intoto.json'
export const STATEMENT_SIGNATURE_NAME = 'statement.intoto.json.sig'
export const FILES_DIR = 'files'
export const IMAGES_DIR = 'images'
export const CUSTODY_DIR = 'custody'
export const IMAGE_INDEX_NAME = `${IMAGES_DIR}/index.json`

/** The OCI artifact type (and layer type) of a pushed pack. */
export const EVIDENCE_ARTIFACT_TYPE = 'application/vnd.ferry.evidence.v1+tar'
export const CASE_ANNOTATION = 'io.ferry.evidence.case'

/** The predicate of the statement: what the pack is, for whoever checks the signature. */
export const EVIDENCE_PREDICATE_TYPE = 'https://ferry.dev/evidence-pack/v1'

/** `custody/0002.json`: the event's place in the chain, at least four digits. */
export const eventName = (seq: number): string => `${CUSTODY_DIR}/${String(seq).padStart(4, '0')}.json`
export const signatureNameOf = (name: string): string => `${name}.sig`

/** Upper bounds on what is read into memory, checked against the tar header before a byte is read. */
export const MAX_BYTES = {
  sums: 256 * 1024 * 1024,
  custodyLog: 16 * 1024 * 1024,
  statement: 16 * 1024 * 1024,
  signature: 4 * 1024,
  event: 64 * 1024,
} as const

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/**
 * A name `sha256sum` writes and reads back as it is: no newline or backslash (it escapes those), no
 * carriage return, no NUL. Also what a tar name must not hold to extract where it says.
 */
export function nameProblem(name: string): string | undefined {
  if (name.startsWith('/')) return 'is an absolute path'
  if (name.split('/').includes('..')) return 'has a ".." path component'
  if (/[\0\\\n\r]/.test(name)) return 'has a NUL, backslash or line break in its name'
  if (name.split('/').some((p) => p === '' || p === '.')) return 'has an empty or "." path component'
  return undefined
}

/** SHA256SUMS as GNU coreutils writes it in text mode: `HEX  NAME\n`, one line per entry, in the order given. */
export function encodeSums(entries: readonly { name: string; sha256: string }[]): Buffer {
  return Buffer.from(entries.map((e) => `${e.sha256}  ${e.name}\n`).join(''), 'utf8')
}

/** The names and hashes of a SHA256SUMS; any other line shape, or a name twice, is refused. */
export function parseSums(bytes: Buffer, archive: string): Map<string, string> {
  const out = new Map<string, string>()
  const text = bytes.toString('utf8')
  if (text !== '' && !text.endsWith('\n'))
    throw new FerryError('VERIFY_FAILED', `${archive}: ${SUMS_NAME} does not end with a newline`)
  for (const [i, line] of text.split('\n').slice(0, -1).entries()) {
    const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line)
    const problem = m ? nameProblem(m[2]!) : 'is not "SHA256  NAME"'
    if (!m || problem)
      throw new FerryError('VERIFY_FAILED', `${archive}: ${SUMS_NAME} line ${i + 1} ${problem}`)
    if (out.has(m[2]!))
      throw new FerryError('VERIFY_FAILED', `${archive}: ${SUMS_NAME} lists "${m[2]}" twice`)
    out.set(m[2]!, m[1]!)
  }
  return out
}

/** RFC 3339 UTC, whole seconds: how every time in a pack is written. */
export const utcSeconds = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z')

/** The largest mtime a ustar header's 11 octal digits hold (year 2514). */
const MAX_TAR_MS = (8 ** 11 - 1) * 1000

/** An RFC 3339 time (`2024-05-01T10:00:00Z`, `…+02:00`, fractions dropped) as a Date a tar header holds. */
export function parseTime(value: string, what: string): Date {
  const ok = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(value)
  const ms = ok ? Date.parse(value) : Number.NaN
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TAR_MS) {
    throw new FerryError(
      'USAGE',
      `${what} "${value}" is not an RFC 3339 time between 1970 and 2514 (e.g. 2024-05-01T10:00:00Z)`,
    )
  }
  return new Date(Math.floor(ms / 1000) * 1000)
}
