import type { ReadOnlyTarget } from '../content/target.js'
import type { Context } from '../context.js'
import { type CopyOptions, type CopyResult, copyImage } from '../copy/copy.js'
import { FerryError, ifPresent } from '../errors.js'
import { type Governance, governedCopy, governs, imageNameOf } from '../governance/governed.js'
import type { Digest } from '../oci/digest.js'
import {
  formatLocation,
  type Location,
  parseLocation,
  parseReference,
  type Reference,
  writable,
} from '../reference/index.js'
import { TargetSet } from './open.js'

/**
 * `ferry copy SRC DST` as a library call: references in, summary out. A destination without tag or
 * digest takes the source's tag; a destination by digest is pushed untagged and must match the source.
 * The signal, the logger and the progress sink are the context's.
 */
export interface CopyReferenceOptions extends Omit<CopyOptions, 'signal' | 'logger' | 'progress'> {
  /** The destination's policy and the ledger: judged before anything is written, recorded after. */
  governance?: Governance
  /** `SRC:TAG@DIGEST` where TAG names another digest: copy DIGEST anyway (default: refuse, CONFLICT). */
  digestWins?: boolean
}

export interface CopyReferenceResult extends CopyResult {
  /** Set when the source's tag and digest disagreed and the digest was copied (`digestWins`). */
  digestWon?: { tag: string; tagDigest?: string }
}

/**
 * The source may be any location (a registry, `https://…`, `oci:DIR…`, `bundle:FILE:IMAGE`), the
 * destination a registry or a layout; text is parsed by the location grammar, a parsed value used as it is.
 */
export async function copyReference(
  ctx: Context,
  source: string | Location,
  destination: string | Location,
  options: CopyReferenceOptions = {},
): Promise<CopyReferenceResult> {
  const opts = { ...options, signal: ctx.signal, logger: ctx.logger, progress: ctx.progress }
  const src = typeof source === 'string' ? parseLocation(source) : source
  // Refused before the source is opened (a bundle source is verified whole first).
  const dst = typeof destination === 'string' ? parseReference(destination) : writable(destination)
  const tag = destinationTag(src, dst)
  // Both sides over the context's one client: one connection pool, one token cache.
  const targets = new TargetSet(ctx)
  try {
    const from = await targets.openSource(src)
    const to = await targets.open(dst, { create: true })
    const digestWon = await checkTagAndDigest(from.target, src, opts)
    // The digest is checked on the bytes fetched, not on an earlier HEAD: a tag that moves in between
    // cannot slip another image in under the digest the user named.
    const expectDigest = dst.digest && !opts.platforms?.length ? (dst.digest as Digest) : undefined
    const hooks =
      governs(opts.governance) &&
      governedCopy(opts.governance, {
        operation: 'copy',
        source: typeof source === 'string' ? source : formatLocation(src),
        name: imageNameOf(dst),
      })
    const result = await copyImage(from.target, from.reference, to.target, tag, {
      platformImage: true,
      ...opts,
      expectDigest,
      ...(hooks ? { hooks } : {}),
    })
    return digestWon ? { ...result, digestWon } : result
  } finally {
    await targets.close()
  }
}

function destinationTag(src: Location, dst: Reference): string | undefined {
  if (dst.digest) return undefined
  return dst.tag ?? src.tag ?? (src.digest ? undefined : 'latest')
}

/**
 * `app:1.0.0@sha256:…` names two things; when the tag names another digest, copying the digest under
 * the tag would relabel other content silently. Refused unless `digestWins`; then said in the result.
 * Promote asks the same of its source.
 */
export async function checkTagAndDigest(
  target: ReadOnlyTarget,
  src: { tag?: string; digest?: string },
  opts: { digestWins?: boolean; signal?: AbortSignal },
): Promise<CopyReferenceResult['digestWon']> {
  if (src.tag === undefined || !src.digest) return undefined
  const tagDigest = (await ifPresent(target.resolve(src.tag, { signal: opts.signal })))?.digest
  if (tagDigest === src.digest) return undefined
  const named = `${target.name}:${src.tag}`
  const is = tagDigest ? `is ${tagDigest}` : 'does not exist'
  if (!opts.digestWins) {
    throw new FerryError(
      'CONFLICT',
      `${named} ${is}, not the ${src.digest} given with it; nothing copied (--digest-wins copies ${src.digest})`,
    )
  }
  return tagDigest ? { tag: src.tag, tagDigest } : { tag: src.tag }
}
