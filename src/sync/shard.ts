import { createHash } from 'node:crypto'
import { FerryError } from '../errors.js'
import { canonicalRepository, type Location } from '../reference/index.js'

/**
 * One worker's part of a sync spec: shard `index` of `count` (0-based, as a Kubernetes Indexed Job
 * numbers its pods in `$JOB_COMPLETION_INDEX`). Each source repository belongs to exactly one shard,
 * by a hash of its canonical name, so N workers mirror one spec together without talking to each
 * other, and a repository's tags (and its listing) stay on one worker.
 */
export interface Shard {
  index: number
  count: number
}

/** The environment variable a Kubernetes Indexed Job sets to the pod's index. */
export const JOB_INDEX_VARIABLE = 'JOB_COMPLETION_INDEX'

const MAX_SHARDS = 10_000

/**
 * `K/N`, or `N` alone with K from `$JOB_COMPLETION_INDEX`: one spelling for a pod template all
 * workers share.
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv = process.env): Shard {
  const m = /^(?:(\d+)\/)?(\d+)$/.exec(text.trim())
  if (!m)
    throw new FerryError(
      'USAGE',
      `--shard ${text}: expected K/N (e.g. 0/3), or N with $${JOB_INDEX_VARIABLE} set`,
    )
  const count = Number(m[2])
  if (count < 1 || count > MAX_SHARDS)
    throw new FerryError('USAGE', `--shard ${text}: N must be between 1 and ${MAX_SHARDS}`)
  const k = m[1] ?? env[JOB_INDEX_VARIABLE]
  if (k === undefined || k === '')
    throw new FerryError('USAGE', `--shard ${text}: no shard index (give K/N, or set $${JOB_INDEX_VARIABLE})`)
  if (!/^\d+$/.test(k))
    throw new FerryError('USAGE', `--shard ${text}: shard index "${k}" is not a whole number`)
  const index = Number(k)
  if (index >= count)
    throw new FerryError(
      'USAGE',
      `--shard ${text}: shard index ${index} is not below the count ${count} (0-based)`,
    )
  return { index, count }
}

/**
 * What a source is sharded by: a registry repository's canonical `HOST/PATH`; a layout's directory
 * (`oci:DIR`); a bundle's file and the repository it names inside (`bundle:FILE:HOST/PATH`).
 */
export function shardKey(source: Location): string {
  if (source.kind === 'registry') return canonicalRepository(source)
  if (source.kind === 'layout') return `oci:${source.path}`
  const { registry, repository } = source
  const inside =
    registry === undefined || repository === undefined
      ? ''
      : `:${canonicalRepository({ registry, repository })}`
  return `bundle:${source.path}${inside}`
}

/**
 * The shard a source repository belongs to: the first 8 bytes of SHA-256 over its `shardKey`, modulo
 * the count. Stable across runs, machines and ferry versions (a change here would move repositories
 * between workers: document it if it must change).
 */
export function shardOf(source: Location, count: number): number {
  const hash = createHash('sha256').update(shardKey(source)).digest()
  return Number(hash.readBigUInt64BE(0) % BigInt(count))
}

export const inShard = (source: Location, shard: Shard): boolean =>
  shardOf(source, shard.count) === shard.index

/** `shard-K-of-N`: the part of a lock or journal file name that keeps shards apart. */
export const shardLabel = (shard: Shard): string => `shard-${shard.index}-of-${shard.count}`
