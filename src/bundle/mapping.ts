/**
 * Where `bundle import --to` puts each image. The destination is `--to` (a registry `HOST[:PORT]`, a
 * prefix `HOST[:PORT]/PATH`, or a layout `oci:DIR`) joined with a path, chosen by the first rule that
 * applies:
 *
 *   1. `--mapping FILE.yaml`, a map of source repository → path under --to:
 *        docker.io/library/postgres: db/postgres
 *   2. the image's `destination` hint from the bundle spec;
 *   3. the source repository without its registry, minus `--strip-components N` leading components.
 *
 * With `--to reg.local:5000/cache`:
 *   docker.io/library/postgres:16                              → reg.local:5000/cache/library/postgres:16
 *   ghcr.io/example/mini-api:1.0                               → reg.local:5000/cache/example/mini-api:1.0
 *   docker.io/library/postgres:16 with --strip-components 1    → reg.local:5000/cache/postgres:16
 *   docker.io/library/postgres:16 with the mapping line above  → reg.local:5000/cache/db/postgres:16
 * With `--to oci:./site` the path names the layout's repository view: `oci:./site` repository
 * `library/postgres`, tag 16 (ref.name `library/postgres:16`).
 */
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { pathProblem, type Scheme } from '../reference/grammar.js'
import { formatRepository, parsePrefixLocation, parseRepository } from '../reference/index.js'
import { readYamlSpec } from '../spec/yaml.js'

export type Destination =
  | { kind: 'registry'; registry: string; prefix: string; scheme?: Scheme }
  | { kind: 'layout'; path: string }

export interface MappingOptions {
  stripComponents?: number
  /** Source repository (normalised, e.g. docker.io/library/postgres) → path under the destination. */
  mapping?: Record<string, string>
}

/** `--to`, parsed by the location grammar: a registry prefix, or a layout directory alone. */
export function parseDestination(to: string): Destination {
  const where = parsePrefixLocation(to)
  if (where.kind === 'registry') return where
  if (where.tag || where.digest)
    throw new FerryError('USAGE', `--to ${to}: name the layout directory only (oci:DIR)`)
  return { kind: 'layout', path: where.path }
}

/** The path (repository without registry; for a layout, the repository view) an image goes to. */
export function destinationPath(
  dest: Destination,
  sourceRepository: string,
  hint: string | undefined,
  opts: MappingOptions,
): string {
  const path =
    opts.mapping?.[sourceRepository] ?? hint ?? stripped(sourceRepository, opts.stripComponents ?? 0)
  const full = dest.kind === 'registry' && dest.prefix ? `${dest.prefix}/${path}` : path
  const problem = pathProblem(full)
  if (problem) throw new FerryError('USAGE', `destination for ${sourceRepository}: "${full}": ${problem}`)
  return full
}

function stripped(sourceRepository: string, n: number): string {
  const components = sourceRepository.split('/').slice(1) // the registry is never part of the path
  if (n >= components.length) {
    throw new FerryError(
      'USAGE',
      `--strip-components ${n} leaves nothing of ${sourceRepository} (its path has ${components.length} components)`,
    )
  }
  return components.slice(n).join('/')
}

/** How the destination is named in messages and the mapping table. */
export function formatDestination(dest: Destination, path: string): string {
  return dest.kind === 'registry' ? `${dest.registry}/${path}` : `oci:${dest.path}:${path}`
}

const mappingFileSchema = z.record(z.string(), z.string())

/** `--mapping FILE.yaml`: keys are normalised (`postgres` means docker.io/library/postgres), values checked as paths. */
export async function loadMappingFile(path: string): Promise<Record<string, string>> {
  const raw = await readYamlSpec(path, mappingFileSchema)
  const out: Record<string, string> = {}
  for (const [source, target] of Object.entries(raw)) {
    let key: string
    try {
      key = formatRepository(parseRepository(source))
    } catch (err) {
      throw new FerryError('USAGE', `${path}: "${source}": ${(err as Error).message}`)
    }
    const problem = pathProblem(target)
    if (problem)
      throw new FerryError(
        'USAGE',
        `${path}: ${source}: "${target}": ${problem} (a path under --to, e.g. db/postgres)`,
      )
    out[key] = target
  }
  return out
}
