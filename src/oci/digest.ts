import { createHash, type Hash } from 'node:crypto'
import { Transform, type TransformCallback } from 'node:stream'
import { FerryError } from '../errors.js'

export type DigestAlgorithm = 'sha256' | 'sha512'

/** A validated `algorithm:hex` string. */
export type Digest = `${DigestAlgorithm}:${string}`

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 }

// The image-spec grammar allows other algorithms; only registered ones can be verified, so only those are accepted.
const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/

/**
 * The manifest reference is meant as a digest (`sha256:…`, `sha512:…`), well-formed or not: a backend
 * then reads it by digest, and a malformed one fails as a bad digest rather than as a missing tag.
 */
export const isDigestReference = (reference: string): boolean => /^sha(?:256|512):/.test(reference)

export function isDigest(value: string): value is Digest {
  const m = DIGEST_RE.exec(value)
  return !!m && m[2]!.length === HEX_LENGTH[m[1] as DigestAlgorithm]
}

export function parseDigest(value: string): { algorithm: DigestAlgorithm; hex: string; digest: Digest } {
  const m = DIGEST_RE.exec(value)
  if (!m || m[2]!.length !== HEX_LENGTH[m[1] as DigestAlgorithm]) {
    throw new FerryError(
      'DIGEST_INVALID',
      `invalid digest "${value}": expected sha256:<64 hex> or sha512:<128 hex>, lower case`,
    )
  }
  return { algorithm: m[1] as DigestAlgorithm, hex: m[2]!, digest: value as Digest }
}

export function digestOf(bytes: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

/** Incremental hashing for streams. */
export class Hasher {
  readonly algorithm: DigestAlgorithm
  private readonly hash: Hash
  private count = 0

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm
    this.hash = createHash(algorithm)
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk)
    this.count += chunk.byteLength
  }

  get size(): number {
    return this.count
  }

  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest('hex')}`
  }
}

/**
 * The bytes a stream carried are not the blob declared (size or digest), found by whoever hashed them.
 * `detail` is the finding without the subject, so a copy can name the side the bytes came from.
 */
export class ContentMismatch extends FerryError {
  declare readonly code: 'DIGEST_MISMATCH' | 'SIZE_INVALID'

  constructor(
    code: 'DIGEST_MISMATCH' | 'SIZE_INVALID',
    subject: string,
    readonly detail: string,
  ) {
    super(code, `${subject}: ${detail}`)
  }
}

export interface VerifyOptions {
  digest: string
  size?: number
  /** Bytes of the blob already seen elsewhere (a resumed download): hashed before the stream's own bytes. */
  prefix?: Iterable<Uint8Array>
  /** For error messages: which blob of which image. */
  subject?: string
}

/**
 * A pass-through that hashes and counts as bytes flow, and fails the stream (never ends it cleanly)
 * when the size or digest is wrong. Over-long bodies fail as soon as they pass the declared size.
 */
export function verifyingStream(opts: VerifyOptions): Transform {
  const { algorithm } = parseDigest(opts.digest)
  const hasher = new Hasher(algorithm)
  for (const chunk of opts.prefix ?? []) hasher.update(chunk)
  const what = opts.subject ?? `blob ${opts.digest}`
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hasher.update(chunk)
      if (opts.size !== undefined && hasher.size > opts.size) {
        cb(new ContentMismatch('SIZE_INVALID', what, `more than the declared ${opts.size} bytes`))
        return
      }
      cb(null, chunk)
    },
    flush(cb: TransformCallback) {
      if (opts.size !== undefined && hasher.size !== opts.size) {
        cb(new ContentMismatch('SIZE_INVALID', what, `got ${hasher.size} bytes, expected ${opts.size}`))
        return
      }
      const got = hasher.digest()
      if (got !== opts.digest) {
        cb(new ContentMismatch('DIGEST_MISMATCH', what, `content digest is ${got}`))
        return
      }
      cb()
    },
  })
}
