import type { Digest } from '../oci/digest.js'
import type { TagPrecondition } from './target.js'

/**
 * Why moving a tag from `previous` to `next` breaks `pre`, or undefined when it may go ahead. Re-pointing
 * a tag at what it already names always may: it changes nothing.
 */
export function preconditionFailure(
  previous: Digest | undefined,
  next: Digest,
  pre: TagPrecondition | undefined,
): string | undefined {
  if (!pre || previous === next) return undefined
  if ('ifAbsent' in pre && previous !== undefined) {
    return `already points at ${previous}; refusing to move it to ${next}`
  }
  if ('ifMatch' in pre && previous !== pre.ifMatch) {
    return `points at ${previous ?? 'nothing'}, expected ${pre.ifMatch}; not moved`
  }
  return undefined
}
