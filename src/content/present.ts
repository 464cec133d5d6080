import { ifPresent } from '../errors.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import type { OperationOptions, ReadOnlyTarget } from './target.js'

/** Resolves a tag or digest, or undefined when the target does not have it (other failures still throw). */
export async function resolveIfPresent(
  target: ReadOnlyTarget,
  reference: string,
  opts?: OperationOptions,
): Promise<Descriptor | undefined> {
  return ifPresent(target.resolve(reference, opts))
}

/** The manifest under `reference`, or undefined when the target does not have it. */
export async function fetchManifestIfPresent(
  target: ReadOnlyTarget,
  reference: string,
  opts?: OperationOptions,
): Promise<Manifest | undefined> {
  return ifPresent(target.fetchManifest(reference, opts))
}
