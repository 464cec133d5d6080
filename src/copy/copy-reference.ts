import { type OpenOptions, openTarget } from '../content/open.js'
import { FerryError } from '../errors.js'
import { parseReference, type Reference } from '../reference/index.js'
import { RegistryClient } from '../registry/index.js'
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
    if (dst.digest && !opts.platforms?.length) {
      const resolved = await from.target.resolve(from.reference)
      if (resolved.digest !== dst.digest) {
        throw new FerryError(
          'USAGE',
          `${destination}: the source ${source} is ${resolved.digest}, not the destination digest`,
        )
      }
    }
    return await copyImage(from.target, from.reference, to.target, tag, opts)
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
