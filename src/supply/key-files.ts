import type { KeyObject } from 'node:crypto'
import { randomBytes } from 'node:crypto'
import { lstat, rename, rm, writeFile } from 'node:fs/promises'
import { FerryError } from '../errors.js'
import {
  decryptPrivateKey,
  FINGERPRINT_RE,
  generateKeyPair,
  type KeySet,
  keyFingerprint,
  readPublicKey,
} from '../sign/index.js'
import { KEY_FILE_MAX_BYTES, readInputFile } from './files.js'

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

/** What is at `path` without following a symlink: absent, a regular file, or something else. */
async function kindAt(path: string): Promise<'absent' | 'file' | 'other'> {
  try {
    return (await lstat(path)).isFile() ? 'file' : 'other'
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent'
    throw err
  }
}

/**
 * Writes a fresh file beside `path` and renames it over: the rename replaces the directory entry, so
 * a symlink planted at `path` after the check is replaced, its target never written.
 */
async function replaceFile(path: string, data: string, mode: number): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeFile(temp, data, { mode, flag: 'wx' })
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/**
 * Checks that every path may be written: absent, or (with `force`) a regular file. Done for all of them
 * before anything is written or generated, so a refusal leaves nothing half made.
 */
export async function checkKeyPaths(paths: string[], force = false): Promise<void> {
  for (const path of paths) {
    const kind = await kindAt(path)
    if (kind === 'other') {
      throw new FerryError(
        'USAGE',
        `${path} exists and is not a regular file (a symlink?); refusing to write it`,
      )
    }
    if (kind === 'file' && !force) {
      throw new FerryError('USAGE', `${path} already exists; remove it or pass --force to overwrite`)
    }
  }
}

/** Without `force` each file is created exclusively, so not even a concurrent run is overwritten. */
export async function writeKeyFile(path: string, data: string, mode: number, force = false): Promise<void> {
  if (force) await replaceFile(path, data, mode)
  else await writeFile(path, data, { mode, flag: 'wx' })
}

/**
 * A new cosign-compatible key pair on disk: PREFIX.key (encrypted, mode 0600) and PREFIX.pub. Both
 * paths are checked before either is written, and without `force` each is created exclusively, so an
 * existing key is never overwritten, not even by a concurrent run. `force` replaces only regular
 * files: a symlink, FIFO or device at either path is refused, never followed.
 */
export async function writeKeyPair(opts: WriteKeyPairOptions): Promise<KeyPairFiles> {
  const prefix = opts.prefix || DEFAULT_KEY_PREFIX
  const files = { privateKeyPath: `${prefix}.key`, publicKeyPath: `${prefix}.pub` }
  await checkKeyPaths(Object.values(files), opts.force)
  const pair = generateKeyPair(opts.password)
  await writeKeyFile(files.privateKeyPath, pair.privateKeyPem, 0o600, opts.force)
  await writeKeyFile(files.publicKeyPath, pair.publicKeyPem, 0o644, opts.force)
  return files
}

const readKeyFile = async (path: string, what: string) =>
  Buffer.from(await readInputFile(path, what, { maxBytes: KEY_FILE_MAX_BYTES })).toString('utf8')

/** The signing key from a cosign key file; errors name the file, never its content or the password. */
export async function loadSigningKey(path: string, password: string): Promise<KeyObject> {
  return decryptPrivateKey(await readKeyFile(path, 'private key'), password, { source: path })
}

/** A public key (cosign.pub) to verify with. */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  return readPublicKey(await readKeyFile(path, 'public key'), { source: path })
}

/**
 * The keys of a command that takes them from flags: each `--key` file trusted (no window), each
 * `--revoked` a `sha256:` fingerprint or a public key file. Paths are kept as given, for reports.
 */
export async function loadKeySet(keys: readonly string[], revoked: readonly string[] = []): Promise<KeySet> {
  const load = async (path: string) => {
    const key = await loadPublicKey(path)
    return { key, fingerprint: keyFingerprint(key), path }
  }
  return {
    keys: await Promise.all(keys.map(load)),
    revoked: await Promise.all(
      revoked.map(async (r) => {
        if (FINGERPRINT_RE.test(r)) return { fingerprint: r }
        if (r.startsWith('sha256:'))
          throw new FerryError(
            'USAGE',
            `revoked key ${r.slice(0, 80)}: a fingerprint is sha256: and 64 lower-case hex digits, as ferry key fingerprint prints it`,
          )
        return load(r)
      }),
    ),
  }
}
