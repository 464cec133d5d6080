import type { KeyObject } from 'node:crypto'
import { FerryError } from '../errors.js'
import { rememberSecret } from '../log.js'
import {
  describePkcs11Uri,
  fileSigner,
  generateTokenKeyPair,
  isPkcs11Uri,
  openPkcs11Signer,
  type Pkcs11KeyOptions,
  type Pkcs11Uri,
  parsePkcs11Uri,
  publicKeyPem,
  readTokenPublicKey,
  type Signer,
  tokenName,
} from '../sign/index.js'
import { readInputFile } from './files.js'
import {
  checkKeyPaths,
  DEFAULT_KEY_PREFIX,
  loadPublicKey,
  loadSigningKey,
  writeKeyFile,
} from './key-files.js'

/** PIN files hold one line; anything bigger is not one (and /dev/zero never ends). */
const PIN_FILE_MAX_BYTES = 4096

export const PKCS11_PIN_ENV = 'FERRY_PKCS11_PIN'
export const PKCS11_MODULE_ENV = 'FERRY_PKCS11_MODULE'

export interface KeySecrets {
  /** A key file's password (the CLI: FERRY_PASSWORD, COSIGN_PASSWORD, else a prompt). Asked only for a file. */
  password?: () => Promise<string>
  /** A token's PIN when neither the URI nor FERRY_PKCS11_PIN gives one (the CLI prompts). */
  pin?: (token: string) => Promise<string>
  /** One-line warnings about how a secret was given (a pin-value in the URI). */
  onWarning?: (message: string) => void
  /** FERRY_PKCS11_PIN and FERRY_PKCS11_MODULE are read from here. Default process.env. */
  env?: NodeJS.ProcessEnv
}

const PIN_VALUE_WARNING =
  'warning: the PIN in the URI’s pin-value is visible in `ps` and in shell history; use pin-source=FILE or FERRY_PKCS11_PIN'

/** The first line of a PIN file, without its newline. */
async function pinFromFile(path: string): Promise<string> {
  const text = Buffer.from(await readInputFile(path, 'PIN file', { maxBytes: PIN_FILE_MAX_BYTES })).toString(
    'utf8',
  )
  const pin = text.split(/\r?\n/)[0]!
  rememberSecret(pin)
  if (pin === '') throw new FerryError('USAGE', `PIN file ${path} is empty`)
  return pin
}

/** The PIN, in order: pin-value (warned about), pin-source, FERRY_PKCS11_PIN, then the caller's prompt. */
async function tokenPin(uri: Pkcs11Uri, secrets: KeySecrets): Promise<string> {
  if (uri.pinValue !== undefined) {
    secrets.onWarning?.(PIN_VALUE_WARNING)
    return uri.pinValue
  }
  if (uri.pinSource !== undefined) return pinFromFile(uri.pinSource)
  const fromEnv = (secrets.env ?? process.env)[PKCS11_PIN_ENV]
  if (fromEnv !== undefined) {
    rememberSecret(fromEnv)
    return fromEnv
  }
  if (secrets.pin) {
    const typed = await secrets.pin(tokenName(uri))
    rememberSecret(typed)
    return typed
  }
  throw new FerryError(
    'USAGE',
    `no PIN for PKCS#11 token ${tokenName(uri)}: add pin-source=FILE to the URI, or set ${PKCS11_PIN_ENV}`,
  )
}

function tokenOptions(uri: Pkcs11Uri, secrets: KeySecrets): Pkcs11KeyOptions {
  const modulePath = uri.modulePath ?? (secrets.env ?? process.env)[PKCS11_MODULE_ENV]
  if (!modulePath) {
    throw new FerryError(
      'USAGE',
      `PKCS#11 URI names no module: add module-path=/path/to/module.so, or set ${PKCS11_MODULE_ENV}`,
    )
  }
  return { modulePath, pin: () => tokenPin(uri, secrets) }
}

/**
 * The signer a `--key` names: a cosign key file (decrypted with the password), or a `pkcs11:` URI (the
 * key stays in the token; the PIN is asked for only here). Every command that signs, and anything
 * later that does (evidence packs), opens its key through this. Close the signer when done.
 */
export async function openSigner(key: string, secrets: KeySecrets = {}): Promise<Signer> {
  if (isPkcs11Uri(key)) {
    const uri = parsePkcs11Uri(key)
    return openPkcs11Signer(uri, tokenOptions(uri, secrets))
  }
  if (!secrets.password) throw new FerryError('USAGE', `key ${key}: no password to decrypt it with`)
  return fileSigner(await loadSigningKey(key, await secrets.password()))
}

/**
 * A public key to show or name: a `PUBLIC KEY` PEM file (cosign.pub), or the public half of a token key
 * pair (no PIN needed: the public object is not private).
 */
export async function readPublicKeyOf(key: string, secrets: KeySecrets = {}): Promise<KeyObject> {
  if (!isPkcs11Uri(key)) return loadPublicKey(key)
  const uri = parsePkcs11Uri(key)
  if (uri.pinValue !== undefined) secrets.onWarning?.(PIN_VALUE_WARNING)
  return readTokenPublicKey(uri, tokenOptions(uri, secrets))
}

export interface TokenKeyPairOptions {
  /** Names the token, the label and/or id of the new pair, and the module. */
  uri: string
  /** Writes PREFIX.pub. Default `cosign`. */
  prefix?: string
  /** Replace an existing PREFIX.pub (a regular file only). */
  force?: boolean
}

/**
 * `key generate --pkcs11`: an ECDSA P-256 pair made inside the token (its private half never leaves),
 * and the public half written to PREFIX.pub. The file is checked before the token is touched.
 */
export async function writeTokenKeyPair(
  opts: TokenKeyPairOptions,
  secrets: KeySecrets = {},
): Promise<{ publicKeyPath: string; key: string; publicKey: KeyObject }> {
  const uri = parsePkcs11Uri(opts.uri)
  const publicKeyPath = `${opts.prefix || DEFAULT_KEY_PREFIX}.pub`
  await checkKeyPaths([publicKeyPath], opts.force)
  const publicKey = await generateTokenKeyPair(uri, tokenOptions(uri, secrets))
  await writeKeyFile(publicKeyPath, publicKeyPem(publicKey), 0o644, opts.force)
  return { publicKeyPath, key: describePkcs11Uri(uri), publicKey }
}
