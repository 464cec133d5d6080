import type { Digest } from '../oci/digest.js'
import { parseReference, type Reference } from '../reference/index.js'
import { RegistryClient } from '../registry/index.js'
import { type OpenOptions, openTarget } from '../targets/open.js'
import { type CopyOptions, type CopyResult, copyImage } from './copy.js'

/**
 * `ferry copy SRC DST` as a library call: references in, summary out. A destination without tag or
 * digest takes the source's tag; a destination by digest is pushed untagged and must match the source.
 */
export async function copyReference(
  source: string,
  destination: string,
  opts: CopyOptions & OpenOptions = {},
): Promise<CopyResult> {
  const src = parseReference(source)
  const dst = parseReference(destination)
  const tag = destinationTag(src, dst)
  const client = opts.client ?? new RegistryClient(opts)
  const from = await openTarget(src, { ...opts, client })
  const to = await openTarget(dst, { ...opts, client, create: true })
  try {
    // The digest is checked on the bytes fetched, not on an earlier HEAD: a tag that moves in between
    // cannot slip another image in under the digest the user named.
    const expectDigest = dst.digest && !opts.platforms?.length ? (dst.digest as Digest) : undefined
    return await copyImage(from.target, from.reference, to.target, tag, {
      platformImage: true,
      ...opts,
      expectDigest,
    })
  } finally {
    await from.target.close()
    await to.target.close()
    if (!opts.client) await client.close()
  }
}

function destinationTag(src: Reference, dst: Reference): string | undefined {
  if (dst.digest) return undefined
  return dst.tag ?? src.tag ?? (src.digest ? undefined : 'latest')
}
