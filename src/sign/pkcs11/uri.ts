import { FerryError } from '../../errors.js'
import { rememberSecret } from '../../log.js'

/**
 * PKCS#11 URIs (RFC 7512), the form cosign's `--key pkcs11:…` takes:
 *   pkcs11:token=NAME;object=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=FILE
 * Path attributes are separated by `;`, query attributes by `&`; values are percent-encoded and `+` is
 * a plus (RFC 7512 § 2.3; cosign decodes with Go's url.ParseQuery, which reads `+` as a space).
 */
export const PKCS11_SCHEME = 'pkcs11:'

export interface Pkcs11Uri {
  /** CKA_LABEL of the token (blank padding ignored). */
  token?: string
  manufacturer?: string
  serial?: string
  model?: string
  /** CK_SLOT_ID, decimal in the URI. */
  slotId?: bigint
  /** CKA_LABEL of the key objects. */
  object?: string
  /** CKA_ID of the key objects, raw bytes (usually written all percent-encoded: `id=%01%a2`). */
  id?: Uint8Array
  /** `type=` as written: the key pair is private + public, so only those (and cert) make sense. */
  type?: string
  modulePath?: string
  /** A file holding the PIN (`pin-source=/run/secrets/pin` or `file:///run/secrets/pin`). */
  pinSource?: string
  /** The PIN itself: in the URI, hence in `ps` and shell history. */
  pinValue?: string
}

const PATH_ATTRIBUTES = ['token', 'manufacturer', 'serial', 'model', 'slot-id', 'object', 'id', 'type']
const QUERY_ATTRIBUTES = ['module-path', 'pin-source', 'pin-value']
const OBJECT_TYPES = ['private', 'public', 'cert']

export const isPkcs11Uri = (key: string): boolean => key.startsWith(PKCS11_SCHEME)

function usage(message: string): FerryError {
  return new FerryError('USAGE', `PKCS#11 URI: ${message}`)
}

/** Percent-decoding to bytes; a lone `%` or bad hex is refused (RFC 3986 pct-encoded). */
function percentDecode(value: string, name: string): Buffer {
  const bytes: number[] = []
  const raw = Buffer.from(value, 'utf8')
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) {
      bytes.push(raw[i]!)
      continue
    }
    const hex = raw.subarray(i + 1, i + 3).toString('latin1')
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw usage(`${name} has a "%" not followed by two hex digits`)
    bytes.push(Number.parseInt(hex, 16))
    i += 2
  }
  return Buffer.from(bytes)
}

function attributes(part: string, separator: string, known: string[], where: string) {
  const out = new Map<string, string>()
  if (part === '') return out
  for (const pair of part.split(separator)) {
    const eq = pair.indexOf('=')
    // Only the attribute's name is ever echoed: a value may be the PIN.
    const name = eq < 0 ? pair : pair.slice(0, eq)
    if (eq < 0) throw usage(`"${name.slice(0, 40)}" in the ${where} is not NAME=VALUE`)
    if (!known.includes(name)) {
      throw usage(
        `${where} attribute "${name.slice(0, 40)}" is not supported (ferry reads ${known.join(', ')})`,
      )
    }
    if (out.has(name)) throw usage(`${name} appears twice`)
    out.set(name, pair.slice(eq + 1))
  }
  return out
}

/**
 * Parses a `pkcs11:` URI. Refused: attributes ferry does not read (an unread path attribute would make
 * the URI match another key than the one meant), duplicates, both pin-source and pin-value. A pin-value
 * is remembered as a secret at once, so no message or log line can show it from here on.
 */
export function parsePkcs11Uri(text: string): Pkcs11Uri {
  if (!isPkcs11Uri(text)) throw usage('must start with pkcs11:')
  const rest = text.slice(PKCS11_SCHEME.length)
  const q = rest.indexOf('?')
  const query = attributes(q < 0 ? '' : rest.slice(q + 1), '&', QUERY_ATTRIBUTES, 'query')
  const pinValue = query.get('pin-value')
  rememberSecret(pinValue)
  const pin = pinValue === undefined ? undefined : percentDecode(pinValue, 'pin-value').toString('utf8')
  rememberSecret(pin)
  const path = attributes(q < 0 ? rest : rest.slice(0, q), ';', PATH_ATTRIBUTES, 'path')

  const text8 = (map: Map<string, string>, name: string) => {
    const v = map.get(name)
    return v === undefined ? undefined : percentDecode(v, name).toString('utf8')
  }
  const uri: Pkcs11Uri = {}
  for (const [name, field] of [
    ['token', 'token'],
    ['manufacturer', 'manufacturer'],
    ['serial', 'serial'],
    ['model', 'model'],
    ['object', 'object'],
    ['type', 'type'],
  ] as const) {
    const v = text8(path, name)
    if (v !== undefined) uri[field] = v
  }
  const slotId = text8(path, 'slot-id')
  if (slotId !== undefined) {
    if (!/^\d{1,20}$/.test(slotId)) throw usage('slot-id must be a decimal number')
    uri.slotId = BigInt(slotId)
  }
  const id = path.get('id')
  if (id !== undefined) uri.id = new Uint8Array(percentDecode(id, 'id'))
  if (uri.type !== undefined && !OBJECT_TYPES.includes(uri.type)) {
    throw usage(`type=${uri.type.slice(0, 20)} cannot name an ECDSA key pair (private, public or cert)`)
  }
  const modulePath = text8(query, 'module-path')
  if (modulePath !== undefined) uri.modulePath = modulePath
  const pinSource = text8(query, 'pin-source')
  if (pinSource !== undefined) uri.pinSource = pinSourcePath(pinSource)
  if (pin !== undefined) uri.pinValue = pin
  if (uri.pinSource !== undefined && uri.pinValue !== undefined) {
    throw usage('give pin-source or pin-value, not both')
  }
  if (uri.object === undefined && uri.id === undefined) {
    throw usage('name the key with object=LABEL or id=%XX…')
  }
  return uri
}

/** RFC 7512 lets pin-source be a URI: a `file:` one is a path; other schemes (p11-kit's `|program`) are refused. */
function pinSourcePath(source: string): string {
  if (source.startsWith('file://')) {
    const url = new URL(source)
    if (url.host !== '' && url.host !== 'localhost') throw usage('pin-source file: URI must be local')
    return decodeURIComponent(url.pathname)
  }
  if (source.startsWith('file:')) return source.slice('file:'.length)
  if (source.startsWith('|') || /^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    throw usage('pin-source must be a file (a path or file: URI)')
  }
  return source
}

/** Which token, as messages name it: its label, else its serial or slot. */
export function tokenName(uri: Pkcs11Uri): string {
  if (uri.token !== undefined) return uri.token
  if (uri.serial !== undefined) return `with serial ${uri.serial}`
  if (uri.slotId !== undefined) return `in slot ${uri.slotId}`
  return '(any)'
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

/** The key as messages and signatures' reports name it: the path part, never the query (PIN, files). */
export function describePkcs11Uri(uri: Pkcs11Uri): string {
  const parts: string[] = []
  if (uri.token !== undefined) parts.push(`token=${encodeURIComponent(uri.token)}`)
  if (uri.serial !== undefined) parts.push(`serial=${encodeURIComponent(uri.serial)}`)
  if (uri.slotId !== undefined) parts.push(`slot-id=${uri.slotId}`)
  if (uri.object !== undefined) parts.push(`object=${encodeURIComponent(uri.object)}`)
  if (uri.id !== undefined) parts.push(`id=${hex(uri.id).replace(/(..)/g, '%$1')}`)
  return `${PKCS11_SCHEME}${parts.join(';')}`
}

/** How messages name the key objects: `object k` / `id %01` / both. */
export function objectName(uri: Pkcs11Uri): string {
  const parts: string[] = []
  if (uri.object !== undefined) parts.push(`labelled "${uri.object}"`)
  if (uri.id !== undefined) parts.push(`with id ${hex(uri.id)}`)
  return parts.join(' and ')
}
