import type { KeyObject } from 'node:crypto'
import { FerryError } from '../errors.js'
import { signClassicWith, verifyClassicLayer } from '../sign/classic.js'
import { publicKeyHint } from '../sign/keys.js'
import { type Signer, toSigner } from '../sign/signer.js'
import { plural } from '../util/plural.js'
import { type AppendOptions, appendRecords } from './append.js'
import { GENESIS, lineHash } from './chain.js'
import { type LedgerFile, readLedgerFile, tornAt } from './read.js'
import { checkpointPayload } from './record.js'

export interface CheckpointState {
  line: number
  /** Lines the checkpoint's signed head covers (all lines before it). */
  covers: number
  head: string
  key: string
  signature: 'verified' | 'not-checked'
}

export interface LedgerVerification {
  file: string
  /**
   * `intact`: every link holds; `broken`: `problem` names the first line that does not; `unchained`:
   * no line carries a link (written before ferry chained its ledger), so nothing can be verified.
   */
  status: 'intact' | 'broken' | 'unchained'
  /** Non-blank lines, a torn last line aside. */
  lines: number
  /** Leading lines written before the chain: only the last of them is covered (by the next one's link). */
  unchained: number
  /** The hash of the last line: kept elsewhere, it shows a later truncation. */
  head: string
  problem?: { line: number; message: string }
  /** Lines a crash cut short that a repair record names. */
  repaired: number[]
  /** The last line has no newline (a write cut short; the next append repairs it). */
  torn: boolean
  checkpoints: CheckpointState[]
  /** Lines after the last checkpoint: no signature covers them (all lines when there is none). */
  uncovered: number
}

/**
 * Checks the chain line by line: each `seq` is the line's position and each `prev` the hash of the line
 * before, so the first line edited, removed, inserted or moved is named. A checkpoint's signed head must
 * be the chain's at its place; with `publicKey` its signature must verify, which a rewrite of the whole
 * chain cannot forge. Lines after the last checkpoint can be cut off unseen: keep `head` elsewhere.
 */
export async function verifyLedger(
  path: string,
  opts: { publicKey?: KeyObject } = {},
): Promise<LedgerVerification> {
  const file = await readLedgerFile(path)
  const report: LedgerVerification = {
    file: path,
    status: 'intact',
    lines: file.lines.length,
    unchained: 0,
    head: GENESIS,
    repaired: [],
    torn: file.tail !== undefined,
    checkpoints: [],
    uncovered: file.lines.length,
  }
  const broken = (line: number, message: string): LedgerVerification => ({
    ...report,
    status: 'broken',
    problem: { line, message },
  })
  const keyId = opts.publicKey && publicKeyHint(opts.publicKey)
  let expected = GENESIS
  let chained = false
  let previous: number | undefined // index of the line `expected` is the hash of
  for (const [i, line] of file.lines.entries()) {
    const n = line.number
    const p = file.parsed[i]!
    if (tornAt(file, i)) {
      report.repaired.push(n)
      continue
    }
    if (p.kind === 'bad') return broken(n, `line ${n} is no ledger record (${p.why}): changed, or damaged`)
    const r = p.record
    if (r.prev === undefined) {
      if (chained)
        return broken(n, `line ${n} has no chain link though lines before it have: inserted, or changed`)
      report.unchained++
    } else {
      if (r.seq !== i + 1) return broken(n, seqProblem(file, i, r.seq))
      if (r.prev !== expected) {
        if (previous === undefined)
          return broken(n, `line ${n} does not link to the start of the chain: lines before it were removed`)
        const before = file.lines[previous]!.number
        return broken(
          before,
          `line ${before} was changed after it was written (line ${n} holds another hash for it)`,
        )
      }
      if (p.kind === 'repair') {
        const torn = file.lines[i - 1]
        if (torn && lineHash(torn.bytes) !== p.record.torn.sha256)
          return broken(torn.number, `line ${torn.number} was changed after line ${n} recorded it as torn`)
      }
      if (p.kind === 'checkpoint') {
        const c = p.record
        if (c.head !== r.prev || c.covers !== i) {
          return broken(
            n,
            `line ${n}: the checkpoint signed the first ${c.covers} lines with head ${c.head}, but the chain has ${i} lines with head ${r.prev} there: lines it covers were changed or removed`,
          )
        }
        let signature: CheckpointState['signature'] = 'not-checked'
        if (opts.publicKey) {
          if (!verifyClassicLayer(checkpointPayload(c.head, c.covers), c.signature, opts.publicKey)) {
            return broken(
              n,
              `line ${n}: the checkpoint's signature does not verify with the given key (key id ${keyId}; it names ${c.key}): forged, or signed with another key`,
            )
          }
          signature = 'verified'
        }
        report.checkpoints.push({ line: n, covers: c.covers, head: c.head, key: c.key, signature })
        report.uncovered = file.lines.length - i - 1
      }
      chained = true
    }
    expected = lineHash(line.bytes)
    previous = i
  }
  report.head = expected
  if (!chained && file.lines.length > 0) return { ...report, status: 'unchained' }
  return report
}

/** What a wrong `seq` says happened: lines removed before it, or moved. */
function seqProblem(file: LedgerFile, i: number, seq: number | undefined): string {
  const n = file.lines[i]!.number
  if (seq === undefined) return `line ${n} has a chain link but no position (seq): changed`
  if (seq > i + 1) {
    const moved = file.parsed.findIndex((p, k) => k > i && p.kind !== 'bad' && p.record.seq === i + 1)
    if (moved >= 0)
      return `line ${n} was written as line ${seq}: lines were reordered (line ${file.lines[moved]!.number} was written as line ${i + 1})`
    return `${plural(seq - i - 1, 'line')} before line ${n} were removed (it was written as line ${seq})`
  }
  return `line ${n} was written as line ${seq}: lines were inserted before it, or reordered`
}

export interface Checkpoint {
  /** The head signed and the lines it covers. */
  head: string
  covers: number
  key: string
}

/**
 * Appends a checkpoint: the chain's head and length signed with `key` (ECDSA P-256: a cosign key file's,
 * or one in a PKCS#11 token). A broken chain is not signed: that would vouch for whatever was changed.
 */
export async function checkpointLedger(
  path: string,
  key: KeyObject | Signer,
  opts: AppendOptions = {},
): Promise<Checkpoint> {
  const signer = toSigner(key)
  const state = await verifyLedger(path)
  if (state.status === 'broken')
    throw new FerryError(
      'VERIFY_FAILED',
      `${path}:${state.problem!.line}: ${state.problem!.message}; not signing it`,
    )
  const id = publicKeyHint(signer.publicKey)
  let signed: Checkpoint | undefined
  await appendRecords(
    path,
    async ({ lines, prev, time, actor }) => {
      signed = { head: prev, covers: lines, key: id }
      const signature = await signClassicWith(checkpointPayload(prev, lines), signer)
      return [{ time, operation: 'checkpoint', actor, head: prev, covers: lines, key: id, signature }]
    },
    opts,
  )
  return signed!
}
