import type { KeyObject } from 'node:crypto'
import { verifyClassicLayer } from './classic.js'
import { keyFingerprint } from './keys.js'
import { recoverSigner } from './recover-key.js'
import type { KeyRef, Trust, TrustedKey } from './trust.js'

/**
 * The keys a verification holds: those it trusts (each with its public key and window) and those
 * revoked, with their public key when a file named them (a key revoked by fingerprint alone has none).
 * A `Trust` with the keys to check signatures with.
 */
export interface KeySet extends Trust {
  keys: readonly (TrustedKey & { key: KeyObject })[]
  revoked: readonly (KeyRef & { key?: KeyObject })[]
}

/** One trusted key, no window, nothing revoked: what `verify --key K.pub` alone means. */
export function singleKeySet(key: KeyObject, path?: string): KeySet {
  return {
    keys: [{ key, fingerprint: keyFingerprint(key), ...(path === undefined ? {} : { path }) }],
    revoked: [],
  }
}

/** A key named as reports name it, with its public key. */
export interface HeldKey extends KeyRef {
  key: KeyObject
}

/** Every public key of the set, each once: trusted keys first, then revoked ones held as files. */
export function candidateKeys(set: KeySet): HeldKey[] {
  const out = new Map<string, HeldKey>()
  for (const k of [...set.keys, ...set.revoked]) {
    if (k.key && !out.has(k.fingerprint)) out.set(k.fingerprint, { ...k, key: k.key })
  }
  return [...out.values()]
}

/**
 * The key of `set` that made `signatureB64` over `message` (a simple-signing payload, or a DSSE
 * envelope's pre-authentication encoding): the first public key it verifies with, else a key revoked by
 * fingerprint alone, recovered from the signature (P-256). Undefined: no key the set knows.
 */
export function signerOf(set: KeySet, message: Uint8Array, signatureB64: string): HeldKey | undefined {
  const held = candidateKeys(set)
  const found = held.find((k) => verifyClassicLayer(message, signatureB64, k.key))
  if (found) return found
  const unheld = set.revoked.filter((r) => !held.some((k) => k.fingerprint === r.fingerprint))
  const recovered = recoverSigner(
    message,
    Buffer.from(signatureB64, 'base64'),
    new Set(unheld.map((r) => r.fingerprint)),
  )
  if (!recovered) return undefined
  const path = unheld.find((r) => r.fingerprint === recovered.fingerprint)?.path
  return { ...recovered, ...(path === undefined ? {} : { path }) }
}
