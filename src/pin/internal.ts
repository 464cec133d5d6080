/**
 * Which internal repository an image of a deployment file is pinned to. Two sources of truth:
 *
 *   --registry HOST[:PORT][/PREFIX]: `bundle import --to`'s naming rule (src/bundle/mapping.ts), with
 *     its --strip-components and --mapping YAML; `postgres:16` → HOST/PREFIX/library/postgres:16.
 *   --mapping FILE.json as `bundle import --mapping-out` wrote it: the source → destination of each
 *     imported image and the digest it was imported at.
 *
 * A reference already inside the internal registry is never mapped again: it is resolved where it is.
 */
import {
  type Destination,
  destinationPath,
  type MappingOptions,
  parseDestination,
} from '../bundle/mapping.js'
import type { MappingOut } from '../bundle/mapping-out.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import {
  DEFAULT_TAG,
  formatRepository,
  parseRegistryReference,
  type RegistryReference,
  type Scheme,
} from '../reference/index.js'

export interface Placement {
  registry: string
  repository: string
  /** The digest the mapping file recorded at import: what the tag must still name. */
  imported?: Digest
}

export interface InternalNames {
  /** Already under the internal registry (and prefix): kept where it is. */
  isInternal(ref: RegistryReference): boolean
  /** Where an external image lives inside; throws NOT_FOUND when the mapping does not know it. */
  place(ref: RegistryReference): Placement
  /** For messages: `reg.local:5000/cache` or `the mapping in images.json`. */
  readonly describe: string
  /** How to reach the internal registry, when `--registry` spelled it (`https://HOST/…`). */
  readonly scheme?: Scheme
}

export function registryNames(to: string, opts: MappingOptions): InternalNames {
  const dest = parseDestination(to)
  if (dest.kind !== 'registry')
    throw new FerryError('USAGE', `--registry ${to}: expected HOST[:PORT][/PREFIX]`)
  const under = (ref: RegistryReference) =>
    ref.registry === dest.registry && (!dest.prefix || ref.repository.startsWith(`${dest.prefix}/`))
  return {
    describe: to,
    ...(dest.scheme ? { scheme: dest.scheme } : {}),
    isInternal: under,
    place: (ref) => ({
      registry: dest.registry,
      repository: destinationPath(dest as Destination, `${ref.registry}/${ref.repository}`, undefined, opts),
    }),
  }
}

export function mappingOutNames(file: MappingOut, source: string): InternalNames {
  const entries = file.images.map((i) => {
    const from = parseRegistryReference(i.source)
    const to = parseRegistryReference(i.destination)
    return { from, to, digest: i.digest as Digest }
  })
  const inside = new Set(entries.map((e) => `${e.to.registry}/${e.to.repository}`))
  return {
    describe: `the mapping in ${source}`,
    isInternal: (ref) => inside.has(`${ref.registry}/${ref.repository}`),
    place(ref) {
      const same = entries.filter(
        (e) => e.from.registry === ref.registry && e.from.repository === ref.repository,
      )
      const tag = ref.tag ?? (ref.digest ? undefined : DEFAULT_TAG)
      const hit =
        tag !== undefined ? same.find((e) => e.from.tag === tag) : same.find((e) => e.digest === ref.digest)
      if (!hit) {
        const name = formatRepository(ref)
        const wanted = `${name}${tag ? `:${tag}` : `@${ref.digest}`}`
        const known = same.map((e) => e.from.tag ?? e.digest).join(', ')
        // One line with both ways out, each with the exact key: a short name (`postgres:16`) is
        // docker.io/library/postgres:16 to the mapping file and to a --mapping YAML alike.
        throw new FerryError(
          'NOT_FOUND',
          `${wanted} is not in ${source}${known ? ` (it has ${known})` : ''}: add an "images" entry with ` +
            `"source": "${wanted}" (bundle import --mapping-out writes them), or give --registry HOST/PREFIX ` +
            `instead (a --mapping YAML line "${name}: PATH" picks its path)`,
        )
      }
      // A TAG@DIGEST is resolved by its digest wherever the tag has gone since (pin.ts warns).
      return { registry: hit.to.registry, repository: hit.to.repository, imported: hit.digest }
    },
  }
}
