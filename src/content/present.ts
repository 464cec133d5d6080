import { isFerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import type { Target } from './target.js'

/** Resolves a tag or digest, or undefined when the target does not have it (other failures still throw). */
export async function resolveIfPresent(target: Target, reference: string): Promise<Descriptor | undefined> {
  try {
    return await target.resolve(reference)
  } catch (err) {
    if (isFerryError(err, 'NOT_FOUND')) return undefined
    throw err
  }
}
