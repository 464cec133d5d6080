import { Flags } from '@oclif/core'
import { FerryError } from '../src/errors.js'
import type { Signer } from '../src/sign/signer.js'
import type { KeySecrets } from '../src/supply/signing-keys.js'
import { keyPassword, promptSecret } from './prompt.js'

/** What every `--key` that signs accepts; docs/signing.md "Keys: files, PKCS#11, rotation" says more. */
export const SIGNING_KEY_HELP =
  'Private key: a cosign key file (NAME.key; password from FERRY_PASSWORD, COSIGN_PASSWORD or a prompt), or a ' +
  'PKCS#11 URI: pkcs11:token=NAME;object=LABEL?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=FILE ' +
  '(PIN from pin-source, FERRY_PKCS11_PIN or a prompt; module from FERRY_PKCS11_MODULE if not in the URI).'

export const signingKeyFlag = (opts: { exclusive?: string[]; description?: string } = {}) =>
  Flags.string({ ...opts, description: opts.description ?? SIGNING_KEY_HELP })

async function promptPin(token: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new FerryError(
      'USAGE',
      `no PIN for PKCS#11 token ${token}: add pin-source=FILE to the URI, set FERRY_PKCS11_PIN, or run in a terminal`,
    )
  }
  return promptSecret(`Enter PIN for PKCS#11 token ${token}: `)
}

/** How the CLI gets a key's secrets: environment first, then the terminal; warnings as notes on stderr. */
export function cliKeySecrets(note: (line: string) => void): KeySecrets {
  return { password: keyPassword, pin: promptPin, onWarning: note }
}

/**
 * Opens the signer `--key` names, runs `work` with it, and closes it (a token session logs out). The
 * key modules load only here: commands that sign nothing never import the Sigstore libraries, and the
 * PKCS#11 binding loads only for a pkcs11: key.
 */
export async function withSigner<T>(
  key: string,
  note: (line: string) => void,
  work: (signer: Signer) => Promise<T>,
): Promise<T>
export async function withSigner<T>(
  key: string | undefined,
  note: (line: string) => void,
  work: (signer: Signer | undefined) => Promise<T>,
): Promise<T>
export async function withSigner<T>(
  key: string | undefined,
  note: (line: string) => void,
  work: (signer: Signer) => Promise<T>,
): Promise<T> {
  if (key === undefined) return (work as (signer: Signer | undefined) => Promise<T>)(undefined)
  const { openSigner } = await import('../src/supply/signing-keys.js')
  const signer = await openSigner(key, cliKeySecrets(note))
  try {
    return await work(signer)
  } finally {
    await signer.close()
  }
}
