import { createHash, createPublicKey, type KeyObject, verify, X509Certificate } from 'node:crypto'
import type * as Pkcs11 from 'pkcs11js'
import { FerryError } from '../../errors.js'
import type { Signer } from '../signer.js'
import { attribute, findObjects, openTokenSession, type TokenSession, tokenError } from './token.js'
import { describePkcs11Uri, objectName, type Pkcs11Uri } from './uri.js'

/** DER of the named curve OID 1.2.840.10045.3.1.7 (P-256), as CKA_EC_PARAMS holds it. */
const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex')
/** SubjectPublicKeyInfo header for an uncompressed P-256 point (RFC 5480): the 65-byte point follows. */
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')
const POINT_BYTES = 65

export interface Pkcs11KeyOptions {
  /** The PKCS#11 library: the URI's module-path, else FERRY_PKCS11_MODULE (the caller decides). */
  modulePath: string
  /** Asked only when the token needs a login (signing, generating); never logged. */
  pin?: () => Promise<string>
}

/**
 * CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (PKCS#11 v2.40 § 2.3.3); some
 * tokens return the bare point. Either way, the SPKI node's crypto reads (and checks it is on the curve).
 */
function spkiFromEcPoint(point: Buffer, where: string): KeyObject {
  let raw = point
  if (point.length === POINT_BYTES + 2 && point[0] === 0x04 && point[1] === POINT_BYTES)
    raw = point.subarray(2)
  if (raw.length !== POINT_BYTES || raw[0] !== 0x04) {
    throw new FerryError('UNSUPPORTED', `${where}: CKA_EC_POINT is not an uncompressed P-256 point`)
  }
  try {
    return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
  } catch {
    throw new FerryError('UNSUPPORTED', `${where}: CKA_EC_POINT is not a point on P-256`)
  }
}

function one(
  handles: Pkcs11.Handle[],
  what: string,
  t: TokenSession,
  uri: Pkcs11Uri,
): Pkcs11.Handle | undefined {
  if (handles.length > 1) {
    throw new FerryError(
      'USAGE',
      `token ${t.label} holds more than one ${what} ${objectName(uri)}: name it with both object= and id=`,
    )
  }
  return handles[0]
}

/** The public key beside the private one: a public key object, else a certificate with the same label/id. */
function publicKeyOf(t: TokenSession, uri: Pkcs11Uri): KeyObject {
  const where = `${describePkcs11Uri(uri)} in token ${t.label}`
  const pub = one(findObjects(t, t.pk.CKO_PUBLIC_KEY, uri), 'public key', t, uri)
  if (pub !== undefined) {
    if (attribute(t, pub, t.pk.CKA_KEY_TYPE).readUIntLE(0, 4) !== t.pk.CKK_EC) {
      throw new FerryError('UNSUPPORTED', `${where}: not an EC key; ferry signs with ECDSA P-256`)
    }
    if (!attribute(t, pub, t.pk.CKA_EC_PARAMS).equals(P256_PARAMS)) {
      throw new FerryError('UNSUPPORTED', `${where}: not a P-256 key; ferry signs with ECDSA P-256`)
    }
    return spkiFromEcPoint(attribute(t, pub, t.pk.CKA_EC_POINT), where)
  }
  const cert = one(findObjects(t, t.pk.CKO_CERTIFICATE, uri), 'certificate', t, uri)
  if (cert !== undefined) {
    const key = new X509Certificate(attribute(t, cert, t.pk.CKA_VALUE)).publicKey
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new FerryError('UNSUPPORTED', `${where}: the certificate's key is not ECDSA P-256`)
    }
    return key
  }
  throw new FerryError(
    'NOT_FOUND',
    `token ${t.label} has no public key or certificate ${objectName(uri)}: ferry needs the public half to write verifiable signatures`,
  )
}

/** The public key of a token key pair; no login unless the token hides public objects. */
export function readTokenPublicKey(uri: Pkcs11Uri, opts: Pkcs11KeyOptions): KeyObject {
  const t = openTokenSession(uri, { modulePath: opts.modulePath })
  try {
    return publicKeyOf(t, uri)
  } finally {
    t.close()
  }
}

/** A raw r||s ECDSA signature (PKCS#11's CKM_ECDSA output) as ASN.1 DER (Go's ecdsa.SignASN1). */
export function ecdsaRawToDer(raw: Uint8Array): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new FerryError('INTERNAL', 'ECDSA signature of odd length')
  const integer = (bytes: Uint8Array) => {
    let i = 0
    while (i < bytes.length - 1 && bytes[i] === 0) i++
    const body =
      bytes[i]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes.subarray(i)]) : Buffer.from(bytes.subarray(i))
    return Buffer.concat([Buffer.from([0x02, body.length]), body])
  }
  const half = raw.length / 2
  const seq = Buffer.concat([integer(raw.subarray(0, half)), integer(raw.subarray(half))])
  // P-256 signatures are at most 72 bytes: short-form lengths throughout.
  return Buffer.concat([Buffer.from([0x30, seq.length]), seq])
}

/**
 * A signer whose private key stays in the token: the SHA-256 digest is computed here and signed with
 * CKM_ECDSA (raw ECDSA over the given hash), then converted to DER. Each signature is checked with the
 * public key found beside it, so a public object that belongs to another key fails here, not at verify.
 * The session stays open (logged in once) until `close`.
 */
export async function openPkcs11Signer(uri: Pkcs11Uri, opts: Pkcs11KeyOptions): Promise<Signer> {
  // The token is found before the PIN is asked for: no prompt for a token that is not there.
  const t = openTokenSession(uri, { modulePath: opts.modulePath })
  let closed = false
  try {
    if (opts.pin) t.login(await opts.pin())
    const where = `${describePkcs11Uri(uri)} in token ${t.label}`
    const key = one(findObjects(t, t.pk.CKO_PRIVATE_KEY, uri), 'private key', t, uri)
    if (key === undefined) {
      throw new FerryError('NOT_FOUND', `token ${t.label} has no private key ${objectName(uri)}`)
    }
    const publicKey = publicKeyOf(t, uri)
    return {
      publicKey,
      deterministic: false,
      async sign(data) {
        if (closed) throw new FerryError('INTERNAL', `${where}: signing after close`)
        const digest = createHash('sha256').update(data).digest()
        let raw: Buffer
        try {
          // Synchronous calls: SignInit and Sign on one session must not interleave with another signature.
          t.pkcs11.C_SignInit(t.session, { mechanism: t.pk.CKM_ECDSA }, key)
          raw = t.pkcs11.C_Sign(t.session, digest, Buffer.alloc(2 * POINT_BYTES))
        } catch (err) {
          throw tokenError(`signing with ${where}`, err)
        }
        const der = ecdsaRawToDer(raw)
        if (!verify('sha256', data, publicKey, der)) {
          throw new FerryError(
            'VERIFY_FAILED',
            `${where}: the token's signature does not verify with the public key found beside it (two keys share the label or id?)`,
          )
        }
        return der
      },
      async close() {
        if (closed) return
        closed = true
        t.close()
      },
    }
  } catch (err) {
    t.close()
    throw err
  }
}

/**
 * Generates an ECDSA P-256 key pair in the token under the URI's label and id: private, sensitive, not
 * extractable, signing only; the public half a public token object (so `export-public` needs no PIN).
 * A token already holding a key under that label or id is refused: two keys with one name make every
 * later URI ambiguous.
 */
export async function generateTokenKeyPair(uri: Pkcs11Uri, opts: Pkcs11KeyOptions): Promise<KeyObject> {
  const t = openTokenSession(uri, { modulePath: opts.modulePath, write: true })
  try {
    if (opts.pin) t.login(await opts.pin())
    const { pk } = t
    // Each name alone: a new pair must not share its label, nor its id, with any key already there.
    const names: Pkcs11Uri[] = []
    if (uri.object !== undefined) names.push({ object: uri.object })
    if (uri.id !== undefined) names.push({ id: uri.id })
    for (const name of names) {
      for (const cls of [pk.CKO_PRIVATE_KEY, pk.CKO_PUBLIC_KEY, pk.CKO_CERTIFICATE]) {
        if (findObjects(t, cls, name).length > 0) {
          throw new FerryError(
            'CONFLICT',
            `token ${t.label} already holds a key ${objectName(name)}; choose another object= or id=`,
          )
        }
      }
    }
    const naming: Pkcs11.Template = []
    if (uri.object !== undefined) naming.push({ type: pk.CKA_LABEL, value: uri.object })
    if (uri.id !== undefined) naming.push({ type: pk.CKA_ID, value: Buffer.from(uri.id) })
    let pair: Pkcs11.KeyPair
    try {
      pair = t.pkcs11.C_GenerateKeyPair(
        t.session,
        { mechanism: pk.CKM_EC_KEY_PAIR_GEN },
        [
          { type: pk.CKA_TOKEN, value: true },
          { type: pk.CKA_PRIVATE, value: false },
          { type: pk.CKA_VERIFY, value: true },
          { type: pk.CKA_ENCRYPT, value: false },
          { type: pk.CKA_WRAP, value: false },
          { type: pk.CKA_EC_PARAMS, value: P256_PARAMS },
          ...naming,
        ],
        [
          { type: pk.CKA_TOKEN, value: true },
          { type: pk.CKA_PRIVATE, value: true },
          { type: pk.CKA_SIGN, value: true },
          { type: pk.CKA_DECRYPT, value: false },
          { type: pk.CKA_UNWRAP, value: false },
          { type: pk.CKA_DERIVE, value: false },
          { type: pk.CKA_SENSITIVE, value: true },
          { type: pk.CKA_EXTRACTABLE, value: false },
          ...naming,
        ],
      )
    } catch (err) {
      throw tokenError(`generating a P-256 key pair in token ${t.label}`, err)
    }
    return spkiFromEcPoint(attribute(t, pair.publicKey, pk.CKA_EC_POINT), describePkcs11Uri(uri))
  } finally {
    t.close()
  }
}
