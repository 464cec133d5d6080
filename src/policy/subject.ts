import { BundleReader, BundleTarget } from '../bundle/index.js'
import type { ReadOnlyTarget } from '../content/target.js'
import { FerryError } from '../errors.js'
import { manifestReference, parseReference, parseRegistryReference } from '../reference/index.js'
import { type OpenOptions, openTarget } from '../targets/open.js'
import type { ImageName } from './match.js'

export const BUNDLE_PREFIX = 'bundle:'

/** An image to judge, wherever it is: a registry, `oci:DIR[:TAG]`, or a member of a bundle file. */
export interface PolicySubject {
  target: ReadOnlyTarget
  /** What to ask the target for: digest when given, else tag. */
  reference: string
  name: ImageName
  close(): Promise<void>
}

/**
 * Opens `REF`, `oci:DIR[:REF]` or `bundle:FILE.tar:REF`. A bundle member is named as the bundle's
 * index names it (the full source name, `docker.io/library/postgres:16`, normalised as any reference),
 * and the bundle is verified blob by blob before anything is read from it: the closed side can gate an
 * import with nothing but the file.
 */
export async function openSubject(text: string, opts: OpenOptions = {}): Promise<PolicySubject> {
  if (text.startsWith(BUNDLE_PREFIX)) return openBundleMember(text)
  const ref = parseReference(text)
  const { target, reference } = await openTarget(ref, opts)
  const name: ImageName =
    ref.kind === 'registry'
      ? { host: ref.registry, repository: ref.repository, tag: ref.tag }
      : { repository: ref.repository ?? '', tag: ref.tag }
  return { target, reference, name, close: () => target.close() }
}

async function openBundleMember(text: string): Promise<PolicySubject> {
  const rest = text.slice(BUNDLE_PREFIX.length)
  const split = rest.indexOf(':')
  if (split <= 0 || split === rest.length - 1) {
    throw new FerryError(
      'REFERENCE_INVALID',
      `${text}: expected bundle:FILE.tar:IMAGE, e.g. bundle:site.tar:docker.io/library/postgres:16`,
    )
  }
  const file = rest.slice(0, split)
  const ref = parseRegistryReference(rest.slice(split + 1))
  const reader = await BundleReader.open(file)
  const target = new BundleTarget(reader, `${ref.registry}/${ref.repository}`)
  return {
    target,
    reference: manifestReference(ref),
    name: { host: ref.registry, repository: ref.repository, tag: ref.tag },
    close: () => reader.close(),
  }
}
