import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto'
import { FerryError } from '../errors.js'
import { rememberSecret } from '../log.js'
import { openEnvelope, sealEnvelope } from './cosign-envelope.js'
import { pemBlockOfType, pemEncode } from './pem.js'

/**
 * cosign key files (`pkg/cosign/keys.go`): an ECDSA P-256 private key as PKCS#8 DER, sealed in the
 * scrypt+secretbox envelope, PEM type `ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign wrote
 * `ENCRYPTED COSIGN PRIVATE KEY`; both are read); the public key is a plain SPKI `PUBLIC KEY` PEM.
 */
export const PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED SIGSTORE PRIVATE KEY'
export const LEGACY_PRIVATE_KEY_PEM_TYPE = 'ENCRYPTED COSIGN PRIVATE KEY'
const PRIVATE_KEY_PEM_TYPES = [PRIVATE_KEY_PEM_TYPE, LEGACY_PRIVATE_KEY_PEM_TYPE] as const

export interface KeyPairPem {
  privateKeyPem: string
  publicKeyPem: string
}

export interface KeyFileOptions {
  /** Names the key in messages (usually its path); never the key's content. Default "key". */
  source?: string
}

/** A new P-256 key pair; the private half encrypted under `password` (empty is allowed, as in cosign). */
export function generateKeyPair(password: string): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' })
  try {
    return {
      privateKeyPem: pemEncode(PRIVATE_KEY_PEM_TYPE, sealEnvelope(pkcs8, password)),
      publicKeyPem: pemEncode('PUBLIC KEY', publicKey.export({ format: 'der', type: 'spki' })),
    }
  } finally {
    pkcs8.fill(0)
  }
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
}

/** The key type as errors name it: `ecdsa P-256`, `rsa 2048-bit`, `ed25519`, `ec secp256k1`. */
export function describeKey(key: KeyObject): string {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails
  if (type === 'ec') {
    const curve = details?.namedCurve ?? 'unknown curve'
    const nist = NIST_CURVES[curve]
    return nist ? `ecdsa ${nist}` : `ec ${curve}`
  }
  if ((type === 'rsa' || type === 'rsa-pss') && details?.modulusLength) {
    return `${type} ${details.modulusLength}-bit`
  }
  return `${type}`
}

const NIST_CURVES: Record<string, string> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
}
const MIN_RSA_BITS = 2048

/** What cosign verifies with (sigstore's allowed key details): ECDSA P-256/384/521, RSA ≥ 2048, Ed25519. */
function acceptedForVerification(key: KeyObject): boolean {
  const type = key.asymmetricKeyType
  const details = key.asymmetricKeyDetails
  if (type === 'ec') return details?.namedCurve !== undefined && details.namedCurve in NIST_CURVES
  if (type === 'rsa') return (details?.modulusLength ?? 0) >= MIN_RSA_BITS
  return type === 'ed25519'
}

/**
 * Decrypt a cosign/sigstore encrypted private key. Refused: other PEM types, scrypt parameters outside
 * the accepted set (checked before deriving), a wrong password, a decrypted key that is not PKCS#8
 * (cosign itself rejects SEC1 inside the envelope) or not ECDSA P-256.
 */
export function decryptPrivateKey(pem: string, password: string, opts: KeyFileOptions = {}): KeyObject {
  const source = opts.source ?? 'key'
  const block = pemBlockOfType(pem, PRIVATE_KEY_PEM_TYPES, source)
  const der = openEnvelope(block.bytes, password, source)
  let key: KeyObject
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
  } catch {
    throw new FerryError(
      'UNSUPPORTED',
      `key ${source}: the decrypted key is not PKCS#8 (an EC PRIVATE KEY inside the envelope is refused, as cosign does)`,
    )
  } finally {
    der.fill(0)
  }
  if (!isP256(key)) {
    throw new FerryError(
      'UNSUPPORTED',
      `key ${source}: ${describeKey(key)} keys are not supported; use ECDSA P-256`,
    )
  }
  return key
}

/** An SPKI `PUBLIC KEY` PEM (cosign.pub), of a type cosign accepts; signing stays P-256. */
export function readPublicKey(pem: string, opts: KeyFileOptions = {}): KeyObject {
  const source = opts.source ?? 'public key'
  const block = pemBlockOfType(pem, ['PUBLIC KEY'], source)
  let key: KeyObject
  try {
    key = createPublicKey({ key: Buffer.from(block.bytes), format: 'der', type: 'spki' })
  } catch {
    throw new FerryError('USAGE', `${source}: PUBLIC KEY block is not a valid SubjectPublicKeyInfo`)
  }
  if (!acceptedForVerification(key)) {
    throw new FerryError(
      'UNSUPPORTED',
      `${source}: ${describeKey(key)} public keys are not accepted; use ECDSA P-256/P-384/P-521, RSA of at least ${MIN_RSA_BITS} bits or Ed25519 (what cosign accepts)`,
    )
  }
  return key
}

/** The public key as an SPKI PEM, whichever half of the pair is given. */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return pemEncode('PUBLIC KEY', pub.export({ format: 'der', type: 'spki' }))
}

/** Key id as cosign sets it in bundles: base64 (standard) of SHA-256 over the SPKI DER. */
export function publicKeyHint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return createHash('sha256')
    .update(pub.export({ format: 'der', type: 'spki' }))
    .digest('base64')
}

/**
 * `sha256:HEX` of the SubjectPublicKeyInfo (DER): how policy files, evidence and `ferry key fingerprint`
 * name a key, whichever half is given and wherever the private half lives.
 */
export function keyFingerprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return `sha256:${createHash('sha256')
    .update(pub.export({ format: 'der', type: 'spki' }))
    .digest('hex')}`
}

/** The key password for non-interactive use: FERRY_PASSWORD, else cosign's COSIGN_PASSWORD. */
export function passwordFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const password = env.FERRY_PASSWORD ?? env.COSIGN_PASSWORD
  rememberSecret(password)
  return password
}
