/**
 * Each internal image resolved (HEAD) and passed through the gate once, however many files and
 * places name it.
 */
import type { ReadOnlyTarget } from '../content/target.js'
import { ifPresent, isFerryError } from '../errors.js'
import { type Digest, isDigest } from '../oci/digest.js'
import type { RegistryReference, Scheme } from '../reference/index.js'
import type { GateVerdict, ImageGate } from './gate.js'
import type { Pinned } from './images.js'

export interface Resolved {
  digest?: Digest
  messages: string[]
  verdict?: GateVerdict
}

/** Where an image is pinned to; the scheme when --registry spelled one. */
export type Place = Omit<Pinned, 'digest'> & { scheme?: Scheme }

/** Where an image is read: its target, its name there, and `where` for messages (`on HOST`, `in bundle FILE`). */
export interface Located {
  target: ReadOnlyTarget
  name: string
  where: string
}

/**
 * The target an image is resolved and verified in: by default its internal place; with `pin --from
 * bundle:FILE`, the bundle's view of its source name (the bundle names images by where they came from).
 */
export type Locate = (place: Place, source: RegistryReference) => Promise<Located>

export function resolver(gate: ImageGate | undefined, locate: Locate) {
  const cache = new Map<string, Promise<Resolved>>()
  const resolve = async (place: Place, source: RegistryReference, selector: string, imported?: Digest) => {
    const { target: t, name, where } = await locate(place, source)
    let digest: Digest
    try {
      digest = (await t.resolve(selector)).digest as Digest
    } catch (err) {
      if (isFerryError(err, 'NOT_FOUND'))
        return { messages: [`${name}${isDigest(selector) ? '@' : ':'}${selector} does not resolve ${where}`] }
      throw err
    }
    if (imported && digest !== imported)
      return { messages: [`${name}:${selector} names ${digest} now, but the mapping recorded ${imported}`] }
    if (!gate) return { digest, messages: ['not verified: no --key or --policy given'] }
    const verdict = await gate({ target: t, name, digest })
    return { digest, messages: verdict.messages, verdict }
  }
  const tags = new Map<string, Promise<Digest | undefined>>()
  const tagDigest = async (place: Place, source: RegistryReference, tag: string) =>
    (await ifPresent((await locate(place, source)).target.resolve(tag)))?.digest as Digest | undefined
  return {
    /** What `tag` names now (HEAD), or undefined when it names nothing; once per repository and tag. */
    tagDigest(place: Place, source: RegistryReference, tag: string): Promise<Digest | undefined> {
      const key = `${place.registry}/${place.repository} ${source.registry}/${source.repository}:${tag}`
      if (!tags.has(key)) tags.set(key, tagDigest(place, source, tag))
      return tags.get(key)!
    },
    get(place: Place, source: RegistryReference, selector: string, imported?: Digest): Promise<Resolved> {
      const key = `${place.registry}/${place.repository} ${source.registry}/${source.repository}@${selector} ${imported ?? ''}`
      if (!cache.has(key)) cache.set(key, resolve(place, source, selector, imported))
      return cache.get(key)!
    },
  }
}
