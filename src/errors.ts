/**
 * One catalogue of failure codes. Every error ferry raises carries one, so that the CLI maps it to an
 * exit code in one place and scripts can match on `--json` output instead of message text.
 */
export type ErrorCode =
  | 'USAGE' // a flag, argument or input file is wrong
  | 'REFERENCE_INVALID'
  | 'DIGEST_INVALID'
  | 'DIGEST_MISMATCH'
  | 'SIZE_INVALID'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_TOO_LARGE'
  | 'UNSUPPORTED' // e.g. Docker schema 1, an unknown digest algorithm
  | 'NOT_FOUND'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'TOO_MANY_REQUESTS'
  | 'REGISTRY' // any other registry-side error
  | 'NETWORK'
  | 'LAYOUT_INVALID'
  | 'CREDENTIALS'
  | 'CONFLICT' // a lock is held, a tag is immutable, a concurrent writer won
  | 'VERIFY_FAILED'
  | 'POLICY_VIOLATION' // an enforce-mode policy rule failed: promote, tag or delete refused
  | 'DRIFT' // audit: a registry no longer holds what the ledger recorded or the policy asks
  | 'ABORTED' // cancelled by the caller (Ctrl-C, a deadline, a client that went away)
  | 'INTERNAL'

export class FerryError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FerryError'
    this.code = code
  }

  /** What `--json` prints for it: subclasses add what they know (a registry's status, a copy's side). */
  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message }
  }
}

/** Exit codes by failure class; 2 is left to oclif for usage errors it detects itself. */
const EXIT_CODES: Partial<Record<ErrorCode, number>> = {
  USAGE: 2,
  REFERENCE_INVALID: 2,
  NOT_FOUND: 3,
  UNAUTHORIZED: 4,
  DENIED: 4,
  CREDENTIALS: 4,
  DIGEST_MISMATCH: 5,
  SIZE_INVALID: 5,
  VERIFY_FAILED: 5,
  NETWORK: 6,
  TOO_MANY_REQUESTS: 6,
  POLICY_VIOLATION: 7,
  // The exit code the governance issue names for drift; usage errors share it, `--json` tells them apart.
  DRIFT: 2,
  ABORTED: 130, // as a shell reports a command ended by SIGINT
}

export function exitCodeFor(err: unknown): number {
  return err instanceof FerryError ? (EXIT_CODES[err.code] ?? 1) : 1
}

export const isFerryError = (err: unknown, code?: ErrorCode): err is FerryError =>
  err instanceof FerryError && (code === undefined || err.code === code)

/** What `read` gives, or undefined when it fails NOT_FOUND (other failures still throw). */
export async function ifPresent<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read
  } catch (err) {
    if (isFerryError(err, 'NOT_FOUND')) return undefined
    throw err
  }
}
