import type { ReadOnlyTarget } from '../content/target.js'
import type { Context } from '../context.js'
import type { ImageName } from '../policy/match.js'
import { type Location, parseLocation } from '../reference/index.js'
import { openSource } from './open.js'

/** An image to judge, wherever it is: a registry, `oci:DIR[:TAG]`, or a member of a bundle file. */
export interface PolicySubject {
  target: ReadOnlyTarget
  /** What to ask the target for: digest when given, else tag. */
  reference: string
  name: ImageName
  close(): Promise<void>
}

/**
 * Opens any location (src/reference/location.ts): `REF`, `oci:DIR[:REF]` or `bundle:FILE.tar:REF`. A
 * bundle member is named as the bundle's index names it (the full source name,
 * `docker.io/library/postgres:16`, normalised as any reference), and the bundle is verified blob by
 * blob before anything is read from it: the closed side can gate an import with nothing but the file.
 */
export async function openSubject(ctx: Context, text: string | Location): Promise<PolicySubject> {
  const where = typeof text === 'string' ? parseLocation(text) : text
  const { target, reference } = await openSource(ctx, where)
  const name: ImageName =
    where.kind === 'layout' || where.registry === undefined
      ? { repository: where.repository ?? '', tag: where.tag }
      : { host: where.registry, repository: where.repository ?? '', tag: where.tag }
  return { target, reference, name, close: () => target.close() }
}
