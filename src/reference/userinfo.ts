/**
 * `user:password@` written in front of a reference or host (`bob:pw@reg.io/app:v1`, a URL habit). No
 * reference grammar has such a part, so such input is refused, and every message that echoes the input
 * shows it with the password replaced: error lines end up in CI logs.
 */
import { FerryError } from '../errors.js'
import { DIGEST_LIKE_RE, ANY_SCHEME_RE as SCHEME_RE } from './grammar.js'

/**
 * Where `user:password` ends (the index of its "@"), or -1. It is the text before the last "@" that
 * does not start a digest, when that text holds a ":" (after any `scheme://`): `repo:tag@sha256:…`
 * has none such, and a password may itself hold "@" or "/".
 */
function userinfoEnd(input: string): number {
  for (let at = input.lastIndexOf('@'); at > 0; at = input.lastIndexOf('@', at - 1)) {
    if (DIGEST_LIKE_RE.test(input.slice(at + 1))) continue
    return input.slice(0, at).replace(SCHEME_RE, '').includes(':') ? at : -1
  }
  return -1
}

export const hasUserinfo = (input: string): boolean => userinfoEnd(input) >= 0

/** The input as messages may show it: `bob:[redacted]@reg.io/app:v1`. */
export function withoutPassword(input: string): string {
  const at = userinfoEnd(input)
  if (at < 0) return input
  const scheme = SCHEME_RE.exec(input)?.[0] ?? ''
  const user = input.slice(scheme.length, at).split(':')[0]
  return `${scheme}${user}:[redacted]${input.slice(at)}`
}

export const USERINFO_REASON =
  'a reference has no user:password@ part; give credentials with ferry login, --creds or --creds-stdin'

/** Every refusal of a reference is made with this, so none echoes a password written in front of it. */
export function invalidReference(input: string, why: string): FerryError {
  return new FerryError('REFERENCE_INVALID', `invalid reference "${withoutPassword(input)}": ${why}`)
}
