import type { KeyObject } from 'node:crypto'
import { chmod, stat, writeFile } from 'node:fs/promises'
import { FerryError } from '../errors.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../sign/index.js'
import { readInputFile } from './files.js'

export interface WriteKeyPairOptions {
  /** Path prefix: writes PREFIX.key and PREFIX.pub. Default `cosign`, as cosign names them. */
  prefix?: string
  /** Encrypts the private key; empty is allowed here (cosign allows it), the CLI asks for a flag. */
  password: string
  /** Replace existing files. Default false: an existing file is never touched. */
  force?: boolean
}

export interface KeyPairFiles {
  privateKeyPath: string
  publicKeyPath: string
}

export const DEFAULT_KEY_PREFIX = 'cosign'

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * A new cosign-compatible key pair on disk: PREFIX.key (encrypted, mode 0600) and PREFIX.pub. Both
 * paths are checked before either is written, and without `force` each is created exclusively, so an
 * existing key is never overwritten, not even by a concurrent run.
 */
export async function writeKeyPair(opts: WriteKeyPairOptions): Promise<KeyPairFiles> {
  const prefix = opts.prefix || DEFAULT_KEY_PREFIX
  const files = { privateKeyPath: `${prefix}.key`, publicKeyPath: `${prefix}.pub` }
  if (!opts.force) {
    for (const path of Object.values(files)) {
      if (await exists(path)) {
        throw new FerryError('USAGE', `${path} already exists; remove it or pass --force to overwrite`)
      }
    }
  }
  const pair = generateKeyPair(opts.password)
  const flag = opts.force ? 'w' : 'wx'
  await writeFile(files.privateKeyPath, pair.privateKeyPem, { mode: 0o600, flag })
  // `mode` applies only when the file is created; an overwritten key file gets it explicitly.
  await chmod(files.privateKeyPath, 0o600)
  await writeFile(files.publicKeyPath, pair.publicKeyPem, { mode: 0o644, flag })
  return files
}

const readKeyFile = async (path: string, what: string) =>
  Buffer.from(await readInputFile(path, what)).toString('utf8')

/** The signing key from a cosign key file; errors name the file, never its content or the password. */
export async function loadSigningKey(path: string, password: string): Promise<KeyObject> {
  return decryptPrivateKey(await readKeyFile(path, 'private key'), password, { source: path })
}

/** A public key (cosign.pub) to verify with. */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  return readPublicKey(await readKeyFile(path, 'public key'), { source: path })
}
