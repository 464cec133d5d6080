import { randomBytes, scryptSync } from 'node:crypto'
import nacl from 'tweetnacl'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { goJson } from './go-json.js'
import { decodeStdBase64 } from './pem.js'

/**
 * The password envelope around cosign private keys: go-securesystemslib `encrypted.Encrypt`
 * (scrypt key derivation + NaCl secretbox, i.e. XSalsa20-Poly1305), serialised as compact JSON.
 */

/** scrypt parameters written for new keys (go-securesystemslib v0.11 "standard" level, as cosign writes). */
export const SCRYPT_WRITE_PARAMS = { N: 65536, r: 8, p: 1 } as const

// go-securesystemslib `CheckParams` accepts exactly its three levels (legacy 2^15, standard 2^16,
// OWASP 2^17), so a key file cannot make the reader spend unbounded memory or time.
const ACCEPTED_N: readonly number[] = [32768, 65536, 131072]

const SALT_BYTES = 32
const NONCE_BYTES = nacl.secretbox.nonceLength // 24
const KEY_BYTES = nacl.secretbox.keyLength // 32

const base64Field = z.string().transform((s, ctx) => {
  const bytes = decodeStdBase64(s)
  if (!bytes) {
    ctx.addIssue({ code: 'custom', message: 'not standard base64' })
    return z.NEVER
  }
  return bytes
})

const envelopeSchema = z.looseObject({
  kdf: z.looseObject({
    name: z.literal('scrypt'),
    params: z.looseObject({ N: z.number().int(), r: z.number().int(), p: z.number().int() }),
    salt: base64Field,
  }),
  cipher: z.looseObject({ name: z.literal('nacl/secretbox'), nonce: base64Field }),
  ciphertext: base64Field,
})

function scryptMaxmem(N: number, r: number, p: number): number {
  // Node refuses anything over 32 MiB by default; scrypt needs 128·N·r bytes plus 128·r·p.
  return 128 * N * r + 128 * r * p + 1024 * 1024
}

function deriveKey(password: string, salt: Uint8Array, N: number, r: number, p: number): Uint8Array {
  return new Uint8Array(scryptSync(password, salt, KEY_BYTES, { N, r, p, maxmem: scryptMaxmem(N, r, p) }))
}

/** Encrypt `plaintext` under `password` and return the envelope's JSON bytes (Go field order, compact). */
export function sealEnvelope(plaintext: Uint8Array, password: string): Uint8Array {
  const { N, r, p } = SCRYPT_WRITE_PARAMS
  const salt = new Uint8Array(randomBytes(SALT_BYTES))
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES))
  const key = deriveKey(password, salt, N, r, p)
  const ciphertext = nacl.secretbox(plaintext, nonce, key)
  key.fill(0)
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')
  return goJson({
    kdf: { name: 'scrypt', params: { N, r, p }, salt: b64(salt) },
    cipher: { name: 'nacl/secretbox', nonce: b64(nonce) },
    ciphertext: b64(ciphertext),
  })
}

/**
 * Decrypt an envelope. Parameters are checked before any key derivation runs; a wrong password (or a
 * damaged file: secretbox cannot tell them apart) is a CREDENTIALS error that names only `source`.
 */
export function openEnvelope(envelopeJson: Uint8Array, password: string, source: string): Uint8Array {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(envelopeJson).toString('utf8'))
  } catch {
    throw new FerryError('USAGE', `key ${source}: the PEM body is not a cosign encrypted-key document`)
  }
  const parsed = envelopeSchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw new FerryError(
      'USAGE',
      `key ${source}: unsupported encrypted-key document${where}: ${issue?.message}`,
    )
  }
  const { kdf, cipher, ciphertext } = parsed.data
  const { N, r, p } = kdf.params
  if (!ACCEPTED_N.includes(N) || r !== 8 || p !== 1) {
    throw new FerryError(
      'UNSUPPORTED',
      `key ${source}: scrypt parameters N=${N} r=${r} p=${p} are not accepted (N must be 32768, 65536 or 131072, r 8, p 1)`,
    )
  }
  if (cipher.nonce.byteLength !== NONCE_BYTES) {
    throw new FerryError('USAGE', `key ${source}: secretbox nonce must be ${NONCE_BYTES} bytes`)
  }
  const key = deriveKey(password, kdf.salt, N, r, p)
  const plaintext = nacl.secretbox.open(ciphertext, cipher.nonce, key)
  key.fill(0)
  if (!plaintext) {
    throw new FerryError('CREDENTIALS', `wrong password for key ${source} (or the key file is damaged)`)
  }
  return plaintext
}
