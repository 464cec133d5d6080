/**
 * The trust decision, written once: which signatures count, given the key that made each, the keys a
 * verification trusts (each with an optional validity window) and the keys revoked. `verify`,
 * `policy check`, `promote`, `pin`, `bundle verify|import` and `serve --policy` all judge through
 * `judgeSignature`; nothing else decides whether a key may be believed.
 *
 * When a window is judged: now, never at a signing time. An offline check with a key has no time it
 * can trust: a classic `.sig` layer carries none, and a Sigstore bundle's transparency-log time
 * (`integratedTime`) is only as good as the log's signature over it, which ferry does not check
 * offline (it holds no log key). An unchecked time is whatever the holder of the key wrote, and the
 * key that outlived its window (a retired key, less guarded) is exactly the one to distrust. So a
 * signature counts only while its key is valid: rotate before `notAfter` and re-sign what must keep
 * verifying.
 */

/** `sha256:HEX` of a key's DER SubjectPublicKeyInfo, as `ferry key fingerprint` prints it. */
export const FINGERPRINT_RE = /^sha256:[0-9a-f]{64}$/

/** A key as reports name it: its fingerprint and, when known, the file it was named by (as written). */
export interface KeyRef {
  fingerprint: string
  path?: string
}

/** A key whose signatures count, between `notBefore` and `notAfter` (RFC 3339, both inclusive). */
export interface TrustedKey extends KeyRef {
  notBefore?: string
  notAfter?: string
}

export interface Trust {
  keys: readonly TrustedKey[]
  /** Revocation wins over everything: a revoked key's signatures never count, whoever trusts it. */
  revoked: readonly KeyRef[]
}

/**
 * `trusted`: counts. `revoked`, `expired` (now > notAfter), `not-yet-valid` (now < notBefore): made with
 * a key that must not be believed now. `untrusted`: made with a key the verification does not list.
 */
export type KeyStatus = 'trusted' | 'revoked' | 'expired' | 'not-yet-valid' | 'untrusted'

/** The key of a signature as reports show it: who made it, the window it was judged by, the outcome. */
export interface SignatureKey extends TrustedKey {
  status: KeyStatus
}

/** `release.pub (sha256:…)`, or the bare fingerprint when no file named the key. */
export const keyName = (key: KeyRef): string =>
  key.path === undefined ? key.fingerprint : `${key.path} (${key.fingerprint})`

/** The key `fingerprint` as `trust` sees it at `now`, with its path and window where `trust` has them. */
export function keyStanding(fingerprint: string, trust: Trust, now: Date): SignatureKey {
  const trusted = trust.keys.find((k) => k.fingerprint === fingerprint)
  const revoked = trust.revoked.find((k) => k.fingerprint === fingerprint)
  const path = trusted?.path ?? revoked?.path
  const known: TrustedKey = {
    fingerprint,
    ...(path === undefined ? {} : { path }),
    ...(trusted?.notBefore === undefined ? {} : { notBefore: trusted.notBefore }),
    ...(trusted?.notAfter === undefined ? {} : { notAfter: trusted.notAfter }),
  }
  return { ...known, status: statusOf(known, trusted !== undefined, revoked !== undefined, now) }
}

function statusOf(key: TrustedKey, trusted: boolean, revoked: boolean, now: Date): KeyStatus {
  if (revoked) return 'revoked'
  if (!trusted) return 'untrusted'
  if (key.notBefore !== undefined && now.getTime() < Date.parse(key.notBefore)) return 'not-yet-valid'
  if (key.notAfter !== undefined && now.getTime() > Date.parse(key.notAfter)) return 'expired'
  return 'trusted'
}

/** Why a signature by `key` does not count, one phrase naming the key (and its bound); undefined: it does. */
export function distrustReason(key: SignatureKey): string | undefined {
  const name = keyName(key)
  switch (key.status) {
    case 'trusted':
      return undefined
    case 'revoked':
      return `signed with revoked key ${name}`
    case 'expired':
      return `signed with key ${name}, expired: notAfter ${key.notAfter} has passed`
    case 'not-yet-valid':
      return `signed with key ${name}, not valid yet: notBefore ${key.notBefore}`
    case 'untrusted':
      return `signed with key ${name}, which is not a trusted key`
  }
}

export interface JudgedSignature {
  /** The signature verified and names the subject (the caller's check) and its key is trusted now. */
  ok: boolean
  reason?: string
  key?: SignatureKey
}

/**
 * Whether one signature counts. `checked` is the cryptographic check and the claims (digest,
 * annotations); `signer` the key that made it (undefined: no key the verification knows, and then it
 * never counts). A signature
 * by a revoked, expired or not-yet-valid key does not count, and its reason says so; a failed check
 * keeps its own reason, the key's standing still reported.
 */
export function judgeSignature(
  checked: { ok: boolean; reason?: string },
  signer: KeyRef | undefined,
  trust: Trust,
  now: Date,
): JudgedSignature {
  // A signature counts only by a key judged here: one no key of the verification made never does.
  if (!signer) return { ok: false, reason: checked.reason ?? 'made with no key the verification holds' }
  const key = keyStanding(signer.fingerprint, trust, now)
  if (signer.path !== undefined && key.path === undefined) key.path = signer.path
  const distrust = distrustReason(key)
  if (!checked.ok) return { ok: false, reason: checked.reason, key }
  return distrust ? { ok: false, reason: distrust, key } : { ok: true, key }
}

/**
 * When the standing of one of `keys` changes next after `now` (a notBefore or notAfter to come), in
 * milliseconds since the epoch; undefined: never. A verdict cached before then is good until then.
 */
export function nextChange(keys: readonly TrustedKey[], now: Date): number | undefined {
  const bounds = keys
    .flatMap((k) => [
      k.notBefore === undefined ? undefined : Date.parse(k.notBefore),
      // The key is valid through notAfter itself; it is expired from the next millisecond.
      k.notAfter === undefined ? undefined : Date.parse(k.notAfter) + 1,
    ])
    .filter((t): t is number => t !== undefined && t > now.getTime())
  return bounds.length ? Math.min(...bounds) : undefined
}
