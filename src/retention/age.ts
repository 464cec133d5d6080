import type { ReadOnlyTarget } from '../content/target.js'
import type { GraphReader } from '../graph/index.js'
import { isImageConfig, readConfig } from '../inspect.js'
import type { LedgerRecord } from '../ledger/index.js'
import { annotationsOf, type Manifest } from '../oci/manifest.js'
import { runnable } from '../policy/labels.js'

const CREATED = 'org.opencontainers.image.created'

/** Where a tag's age came from, in the order they are tried; `none`: no source gave one. */
export type AgeSource = 'annotation' | 'label' | 'config' | 'ledger' | 'none'

export interface Age {
  /** Milliseconds since the epoch; absent with source `none`. */
  time?: number
  source: AgeSource
}

/** RFC 3339 to ms; a reproducible build's epoch (1970-01-01T00:00:00Z, or before) says nothing. */
function instant(text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const ms = Date.parse(text)
  return Number.isFinite(ms) && ms > 0 ? ms : undefined
}

/**
 * The promotion ledger as an age source: when each `DESTINATION:TAG` and each digest was last promoted
 * (verdict `promoted`), keyed both ways so a tag that moved since is still found by its digest.
 */
export interface LedgerAges {
  byDestination: Map<string, number>
  byDigest: Map<string, number>
}

export function ledgerAges(records: readonly LedgerRecord[]): LedgerAges {
  const ages: LedgerAges = { byDestination: new Map(), byDigest: new Map() }
  const later = (map: Map<string, number>, key: string, ms: number) => {
    if ((map.get(key) ?? 0) < ms) map.set(key, ms)
  }
  for (const r of records) {
    const ms = instant(r.time)
    if (r.verdict !== 'promoted' || ms === undefined) continue
    later(ages.byDestination, r.destination, ms)
    later(ages.byDigest, r.digest, ms)
  }
  return ages
}

/** An image's own age: the annotation, then the config label, then the config's `created`. */
async function imageAge(target: ReadOnlyTarget, m: Manifest): Promise<Age> {
  const annotated = instant(annotationsOf(m)?.[CREATED])
  if (annotated !== undefined) return { time: annotated, source: 'annotation' }
  if (m.kind !== 'image' || !isImageConfig(m.image.config)) return { source: 'none' }
  const config = await readConfig(target, m.image.config)
  const labelled = instant(config?.config?.Labels?.[CREATED])
  if (labelled !== undefined) return { time: labelled, source: 'label' }
  const created = instant(config?.created)
  return created !== undefined ? { time: created, source: 'config' } : { source: 'none' }
}

/**
 * How old the manifest a tag names is. An index without the annotation takes its newest platform
 * image's age (the build that made the index); the ledger is the last resort, by tag then by digest.
 */
export async function ageOf(
  reader: GraphReader,
  m: Manifest,
  destination: string,
  ledger?: LedgerAges,
): Promise<Age> {
  let age = await imageAge(reader.target, m)
  if (age.source === 'none' && m.kind === 'index') {
    const children = await Promise.all(
      m.index.manifests
        .filter(runnable)
        .map(async (d) => imageAge(reader.target, await reader.manifest(d.digest))),
    )
    const dated = children.filter((c) => c.time !== undefined).sort((a, b) => b.time! - a.time!)
    if (dated[0]) age = dated[0]
  }
  if (age.source !== 'none' || !ledger) return age
  const promoted = ledger.byDestination.get(destination) ?? ledger.byDigest.get(m.digest)
  return promoted !== undefined ? { time: promoted, source: 'ledger' } : age
}
