/**
 * Each internal image resolved (HEAD) and passed through the gate once, however many files and
 * places name it.
 */
import type { ReadOnlyTarget } from '../content/target.js'
import { ifPresent, isFerryError } from '../errors.js'
import { type Digest, isDigest } from '../oci/digest.js'
import type { RegistryClient } from '../registry/index.js'
import type { GateVerdict, ImageGate } from './gate.js'
import type { Pinned } from './images.js'

export interface Resolved {
  digest?: Digest
  messages: string[]
  verdict?: GateVerdict
}

export function resolver(gate: ImageGate | undefined, client: RegistryClient) {
  const cache = new Map<string, Promise<Resolved>>()
  const targets = new Map<string, ReadOnlyTarget>()
  const target = (registry: string, repository: string) => {
    const key = `${registry}/${repository}`
    if (!targets.has(key)) targets.set(key, client.repository(registry, repository))
    return targets.get(key)!
  }
  const resolve = async (place: Omit<Pinned, 'digest'>, selector: string, imported?: Digest) => {
    const name = `${place.registry}/${place.repository}`
    const t = target(place.registry, place.repository)
    let digest: Digest
    try {
      digest = (await t.resolve(selector)).digest as Digest
    } catch (err) {
      if (isFerryError(err, 'NOT_FOUND'))
        return {
          messages: [
            `${name}${isDigest(selector) ? '@' : ':'}${selector} does not resolve on ${place.registry}`,
          ],
        }
      throw err
    }
    if (imported && digest !== imported)
      return { messages: [`${name}:${selector} names ${digest} now, but the mapping recorded ${imported}`] }
    if (!gate) return { digest, messages: ['not verified: no --key or --policy given'] }
    const verdict = await gate({ target: t, name, digest })
    return { digest, messages: verdict.messages, verdict }
  }
  const tags = new Map<string, Promise<Digest | undefined>>()
  const tagDigest = async (place: Omit<Pinned, 'digest'>, tag: string) =>
    (await ifPresent(target(place.registry, place.repository).resolve(tag)))?.digest as Digest | undefined
  return {
    /** What `tag` names now (HEAD), or undefined when it names nothing; once per repository and tag. */
    tagDigest(place: Omit<Pinned, 'digest'>, tag: string): Promise<Digest | undefined> {
      const key = `${place.registry}/${place.repository}:${tag}`
      if (!tags.has(key)) tags.set(key, tagDigest(place, tag))
      return tags.get(key)!
    },
    get(place: Omit<Pinned, 'digest'>, selector: string, imported?: Digest): Promise<Resolved> {
      const key = `${place.registry}/${place.repository}@${selector} ${imported ?? ''}`
      if (!cache.has(key)) cache.set(key, resolve(place, selector, imported))
      return cache.get(key)!
    },
  }
}
