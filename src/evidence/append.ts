import { createReadStream } from 'node:fs'
import { hostname } from 'node:os'
import { openOutput } from '../bundle/output.js'
import { type TarEntrySource, writeTar } from '../bundle/tar-write.js'
import { lineHash } from '../ledger/chain.js'
import { keyFingerprint } from '../sign/keys.js'
import type { Signer } from '../sign/signer.js'
import { withLock } from '../util/lock.js'
import { type CustodyAction, type EventFields, eventFileBytes, eventLine } from './custody.js'
import { eventName, parseTime, signatureNameOf, utcSeconds } from './format.js'
import { signBytes } from './statement.js'
import { type CustodyRecord, checkEvidence } from './verify.js'

export interface AppendCustodyOptions {
  custodian: string
  action: Exclude<CustodyAction, 'captured'>
  note?: string
  /** RFC 3339: when it happened, if not now (an event recorded after the fact). */
  at?: string
  /** Signs the event: `custody/NNNN.json.sig`, and the event names the key's fingerprint. */
  signer?: Signer
  /** `ferry 0.1.0`. */
  tool: string
  /** Default: this machine's host name. */
  host?: string
  now?: () => Date
}

export interface AppendCustodyResult {
  file: string
  event: CustodyRecord
  /** The new head: give it to the next custodian, who can check it with `verify --head`. */
  head: string
  signed: boolean
}

/**
 * Appends a custody event as new entries at the end of the tar: the file is verified first (a pack
 * that does not verify is not vouched for), then written anew beside itself, the entries before the
 * end-of-archive marker copied byte for byte and the event after them, and renamed over the original.
 * So SHA256SUMS and the statement keep verifying, and a reader sees the old file or the new one, never
 * a mix. A lock file beside the pack keeps two appends from forking the chain.
 */
export async function appendCustody(path: string, opts: AppendCustodyOptions): Promise<AppendCustodyResult> {
  const time = utcSeconds(opts.at === undefined ? (opts.now?.() ?? new Date()) : parseTime(opts.at, '--at'))
  return withLock(`${path}.lock`, {}, async () => {
    const { pack, chain } = await checkEvidence(path)
    const last = chain.at(-1)!
    const seq = chain.length + 1
    const fields: EventFields = {
      time,
      action: opts.action,
      custodian: opts.custodian,
      case: chain[0]!.event.case,
      host: opts.host ?? hostname(),
      tool: opts.tool,
      ...(opts.note === undefined ? {} : { note: opts.note }),
      ...(opts.signer ? { key: keyFingerprint(opts.signer.publicKey) } : {}),
    }
    const line = eventLine(fields, seq, last.hash)
    const bytes = eventFileBytes(line)
    const name = eventName(seq)
    const entries: TarEntrySource[] = [{ name, size: bytes.byteLength, bytes }]
    if (opts.signer) {
      const signature = await signBytes(bytes, opts.signer)
      entries.push({ name: signatureNameOf(name), size: signature.byteLength, bytes: signature })
    }
    const out = await openOutput(path)
    try {
      if (pack.end > 0) {
        for await (const chunk of createReadStream(path, { start: 0, end: pack.end - 1 }))
          await out.write(chunk as Buffer)
      }
      await writeTar(entries, out, { mtime: new Date(time) })
      await out.commit()
    } catch (err) {
      await out.abort()
      throw err
    }
    const head = lineHash(line)
    const event: CustodyRecord = {
      ...fields,
      seq,
      prev: last.hash,
      hash: head,
      where: name,
      signature: opts.signer ? 'verified' : 'unsigned',
    }
    return { file: path, event, head, signed: opts.signer !== undefined }
  })
}
