import type { KeyObject } from 'node:crypto'
import { FerryError } from '../errors.js'
import { parseIndexBytes } from '../layout/layout-files.js'
import { REF_NAME_ANNOTATION } from '../layout/naming.js'
import { keyFingerprint } from '../sign/keys.js'
import {
  type ChainedEvent,
  type CustodyEvent,
  checkChain,
  custodyLogLines,
  eventFileLine,
} from './custody.js'
import {
  CUSTODY_LOG_NAME,
  eventName,
  IMAGE_INDEX_NAME,
  parseSums,
  STATEMENT_NAME,
  STATEMENT_SIGNATURE_NAME,
  SUMS_NAME,
  signatureNameOf,
} from './format.js'
import { isListedKind, type ScannedEntry, type ScannedPack, scanPack } from './scan.js'
import { checkStatement, type StatementState, verifiesWith } from './statement.js'

export interface CustodyRecord extends CustodyEvent {
  /** `sha256:` of the event's line: what the next event's `prev` is, and what `verify --head` compares. */
  hash: string
  /** Where it is: `custody.jsonl line 1`, `custody/0002.json`. */
  where: string
  /** Appended events: `verified` with a given key, `not-checked` without the signer's key, or `unsigned`. */
  signature?: 'verified' | 'not-checked' | 'unsigned'
}

export interface EvidenceListing {
  file: string
  case: string
  capturedAt: string
  custodian: string
  entries: { name: string; size: number }[]
  /** Images by digest (`REPO@sha256:HEX`), from images/index.json. */
  images: string[]
  files: number
  custody: CustodyRecord[]
  /** The last event's hash. */
  head: string
  signed: boolean
}

export interface EvidenceVerification extends Omit<EvidenceListing, 'entries' | 'signed'> {
  /** Entries hashed and the bytes in them. */
  entries: number
  bytes: number
  /** sha256 of SHA256SUMS (the statement's subject). */
  sums: string
  signature: StatementState
  /** Fingerprint of the key the statement verified with. */
  key?: string
  ok: true
}

export interface VerifyEvidenceOptions {
  /** Public keys: the statement's signature must verify with one; appended events signed by one are checked. */
  keys?: readonly KeyObject[]
  /** A custody head recorded elsewhere (a hand-over receipt): it must be an event of the chain. */
  head?: string
}

const fail = (archive: string, why: string) => new FerryError('VERIFY_FAILED', `${archive}: ${why}`)

/** The chain: custody.jsonl's lines, then the appended events in tar order, each with its signature. */
function readChain(pack: ScannedPack, archive: string): ChainedEvent[] {
  const log = pack.small.get(CUSTODY_LOG_NAME)
  if (!log) throw fail(archive, `${CUSTODY_LOG_NAME} is missing (not an evidence pack)`)
  const events: { bytes: Buffer; where: string; signature?: Buffer }[] = custodyLogLines(log, archive)
  for (const entry of pack.entries) {
    if (entry.kind.kind === 'event-signature') {
      const event = entry.name.replace(/\.sig$/, '')
      if (!pack.small.has(event)) throw fail(archive, `${entry.name} signs ${event}, which is not there`)
    }
    if (entry.kind.kind !== 'event') continue
    const line = eventFileLine(pack.small.get(entry.name)!, entry.name, archive)
    const signature = pack.small.get(signatureNameOf(entry.name))
    events.push({ bytes: line, where: entry.name, ...(signature ? { signature } : {}) })
  }
  const chain = checkChain(events, archive)
  for (const e of chain) {
    if (!e.where.startsWith('custody/')) continue
    if (e.where !== eventName(e.event.seq))
      throw fail(archive, `${e.where} holds custody event ${e.event.seq}: renamed`)
    if (e.event.key && !e.signature)
      throw fail(
        archive,
        `${e.where} names signing key ${e.event.key} but its signature is missing (removed)`,
      )
    if (!e.event.key && e.signature) throw fail(archive, `${e.where} has a signature but names no key`)
  }
  return chain
}

/** `REPO@sha256:HEX` of each image packed, from images/index.json. */
function packedImages(pack: ScannedPack, archive: string): string[] {
  const bytes = pack.small.get(IMAGE_INDEX_NAME)
  if (!bytes) return []
  let index: ReturnType<typeof parseIndexBytes>
  try {
    index = parseIndexBytes(bytes, IMAGE_INDEX_NAME)
  } catch (err) {
    throw fail(archive, (err as Error).message)
  }
  return index.manifests
    .map((m) => m.annotations?.[REF_NAME_ANNOTATION])
    .filter((n): n is string => n !== undefined && /@sha(256|512):/.test(n))
}

function listing(pack: ScannedPack, chain: ChainedEvent[], archive: string): EvidenceListing {
  const captured = chain[0]!.event
  return {
    file: archive,
    case: captured.case,
    capturedAt: captured.time,
    custodian: captured.custodian,
    entries: pack.entries.map((e) => ({ name: e.name, size: e.size })),
    images: packedImages(pack, archive),
    files: pack.entries.filter((e) => e.kind.kind === 'file').length,
    custody: chain.map((c) => ({ ...c.event, hash: c.hash, where: c.where })),
    head: chain.at(-1)!.hash,
    signed: pack.small.has(STATEMENT_SIGNATURE_NAME),
  }
}

/** `ferry evidence ls`: names, sizes and the custody history, without hashing the content. */
export async function listEvidence(path: string): Promise<EvidenceListing> {
  const pack = await scanPack(path, { hash: false })
  return listing(pack, readChain(pack, path), path)
}

/**
 * Every entry hashed and checked against SHA256SUMS, both ways (nothing listed is missing, nothing
 * that must be listed is not); the custody chain; the statement's subjects and, with keys, the
 * signatures. The first problem is raised (VERIFY_FAILED, exit 5), naming the entry.
 */
export async function verifyEvidence(
  path: string,
  opts: VerifyEvidenceOptions = {},
): Promise<EvidenceVerification> {
  return (await checkEvidence(path, opts)).report
}

/** `verifyEvidence`, with what an append builds on: the scanned tar and the chain. */
export async function checkEvidence(
  path: string,
  opts: VerifyEvidenceOptions = {},
): Promise<{ report: EvidenceVerification; pack: ScannedPack; chain: ChainedEvent[] }> {
  const keys = opts.keys ?? []
  const pack = await scanPack(path, { hash: true })
  const sumsBytes = pack.small.get(SUMS_NAME)
  if (!sumsBytes) throw fail(path, `${SUMS_NAME} is missing (not an evidence pack)`)
  const sums = parseSums(sumsBytes, path)
  const present = new Map<string, ScannedEntry>(pack.entries.map((e) => [e.name, e]))
  for (const entry of pack.entries) {
    const listed = sums.get(entry.name)
    if (listed === undefined) {
      if (isListedKind(entry.kind.kind)) throw fail(path, `${entry.name} is not listed in ${SUMS_NAME}`)
      continue
    }
    if (listed !== entry.sha256)
      throw fail(path, `${entry.name}: its sha256 is ${entry.sha256}, ${SUMS_NAME} says ${listed} (changed)`)
    const blob = /^images\/blobs\/sha256\/([a-f0-9]{64})$/.exec(entry.name)
    if (blob && blob[1] !== entry.sha256)
      throw fail(path, `${entry.name}: its content is sha256:${entry.sha256}, not what its name says`)
  }
  for (const name of sums.keys()) {
    if (!present.has(name)) throw fail(path, `${name} is listed in ${SUMS_NAME} but missing (removed)`)
  }
  const chain = readChain(pack, path)
  const packedHead = chain[custodyLogLines(pack.small.get(CUSTODY_LOG_NAME)!, path).length - 1]!.hash
  const statement = checkStatement(
    path,
    pack.small.get(STATEMENT_NAME),
    pack.small.get(STATEMENT_SIGNATURE_NAME),
    { sums: present.get(SUMS_NAME)!.sha256!, custodyHead: packedHead },
    keys,
  )
  const byFingerprint = new Map(keys.map((k) => [keyFingerprint(k), k]))
  const base = listing(pack, chain, path)
  const custody = base.custody.map((record, i): CustodyRecord => {
    const e = chain[i]!
    if (!e.where.startsWith('custody/')) return record
    if (!e.signature) return { ...record, signature: 'unsigned' }
    const key = byFingerprint.get(e.event.key!)
    if (!key) return { ...record, signature: 'not-checked' }
    if (!verifiesWith(pack.small.get(e.where)!, e.signature, key))
      throw fail(
        path,
        `${signatureNameOf(e.where)} does not verify ${e.where} with key ${e.event.key} (tampered)`,
      )
    return { ...record, signature: 'verified' }
  })
  if (opts.head !== undefined && !chain.some((c) => c.hash === opts.head)) {
    throw fail(
      path,
      `custody head ${opts.head} is not in the chain (head ${base.head}): events after it were removed, or it belongs to another pack`,
    )
  }
  const { entries: _names, signed: _signed, ...rest } = base
  const report: EvidenceVerification = {
    ...rest,
    custody,
    entries: pack.entries.length,
    bytes: pack.entries.reduce((n, e) => n + e.size, 0),
    sums: present.get(SUMS_NAME)!.sha256!,
    signature: statement.state,
    ...(statement.key ? { key: statement.key } : {}),
    ok: true,
  }
  return { report, pack, chain }
}
