import type { KeyObject } from 'node:crypto'
import { FerryError } from '../errors.js'
import { signClassicWith, verifyClassicLayer } from '../sign/classic.js'
import { parseStatement, STATEMENT_TYPE_V1 } from '../sign/in-toto.js'
import { keyFingerprint } from '../sign/keys.js'
import type { Signer } from '../sign/signer.js'
import { EVIDENCE_PREDICATE_TYPE, STATEMENT_NAME, STATEMENT_SIGNATURE_NAME, SUMS_NAME } from './format.js'

/** The subject naming the custody chain's head as packed: sha256 of custody.jsonl's last line. */
export const CUSTODY_HEAD_SUBJECT = 'custody.jsonl#head'

export interface EvidencePredicate {
  case: string
  capturedAt: string
  custodian: string
  tool: string
  host: string
  files: number
  images: { reference: string; digest: string }[]
}

/**
 * An in-toto Statement v1 (in-toto/attestation spec/v1/statement.md) whose subjects are SHA256SUMS
 * (which lists every packed entry) and the custody head: signing it signs every byte packed. JSON with
 * a fixed key order, so the same pack gives the same bytes.
 */
export function evidenceStatement(sums: string, custodyHead: string, predicate: EvidencePredicate): Buffer {
  const statement = {
    _type: STATEMENT_TYPE_V1,
    subject: [
      { name: SUMS_NAME, digest: { sha256: sums } },
      { name: CUSTODY_HEAD_SUBJECT, digest: { sha256: custodyHead.replace(/^sha256:/, '') } },
    ],
    predicateType: EVIDENCE_PREDICATE_TYPE,
    predicate,
  }
  return Buffer.from(`${JSON.stringify(statement, null, 2)}\n`, 'utf8')
}

/** Base64 (standard, no newline) of the DER signature: what `cosign sign-blob` writes. */
export async function signBytes(bytes: Uint8Array, signer: Signer): Promise<Buffer> {
  return Buffer.from(await signClassicWith(bytes, signer), 'ascii')
}

export const verifiesWith = (bytes: Uint8Array, signature: Buffer, key: KeyObject): boolean =>
  verifyClassicLayer(bytes, signature.toString('ascii').trim(), key)

/** The given key whose signature over `bytes` verifies, if any. */
export function keyThatVerifies(
  bytes: Uint8Array,
  signature: Buffer,
  keys: readonly KeyObject[],
): KeyObject | undefined {
  return keys.find((k) => verifiesWith(bytes, signature, k))
}

export type StatementState = 'verified' | 'not-checked' | 'unsigned'

/**
 * The statement names this SHA256SUMS and custody head (always checked: a statement about other bytes
 * is refused), and with `keys` its signature verifies with one of them.
 */
export function checkStatement(
  archive: string,
  statement: Buffer | undefined,
  signature: Buffer | undefined,
  expect: { sums: string; custodyHead: string },
  keys: readonly KeyObject[],
): { state: StatementState; key?: string; predicate?: EvidencePredicate } {
  const fail = (why: string) => new FerryError('VERIFY_FAILED', `${archive}: ${why}`)
  if (!statement) {
    if (signature) throw fail(`${STATEMENT_SIGNATURE_NAME} is there but ${STATEMENT_NAME} is not`)
    if (keys.length) throw fail(`the pack is not signed (no ${STATEMENT_NAME}), but a key was given`)
    return { state: 'unsigned' }
  }
  const parsed = parseStatement(statement)
  if (!parsed.statement) throw fail(`${STATEMENT_NAME}: ${parsed.reason}`)
  const subjects = parsed.statement.subject as { name?: string; digest: Record<string, string> }[]
  const named = (name: string) => subjects.find((s) => s.name === name)?.digest.sha256
  if (named(SUMS_NAME) !== expect.sums)
    throw fail(`${STATEMENT_NAME} names another ${SUMS_NAME} (sha256 ${named(SUMS_NAME) ?? 'none'})`)
  if (`sha256:${named(CUSTODY_HEAD_SUBJECT)}` !== expect.custodyHead)
    throw fail(`${STATEMENT_NAME} names another custody head than custody.jsonl's last event`)
  const predicate = (parsed.statement as { predicate?: EvidencePredicate }).predicate
  if (!signature) {
    if (keys.length) throw fail(`${STATEMENT_NAME} is not signed (no ${STATEMENT_SIGNATURE_NAME})`)
    return { state: 'unsigned', predicate }
  }
  if (!keys.length) return { state: 'not-checked', predicate }
  const key = keyThatVerifies(statement, signature, keys)
  if (!key) {
    throw fail(
      `${STATEMENT_SIGNATURE_NAME} does not verify ${STATEMENT_NAME} with the given key (tampered, or signed with another key)`,
    )
  }
  return { state: 'verified', key: keyFingerprint(key), predicate }
}
