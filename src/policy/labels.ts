import type { ReadOnlyTarget } from '../content/target.js'
import { isImageConfig, readConfig } from '../inspect.js'
import { annotationsOf, type Manifest } from '../oci/manifest.js'

/** Where a required label was found: the manifest's annotations (the image spec) or the config's labels (Docker). */
export type LabelSource = 'annotation' | 'label'

export interface FoundLabel {
  name: string
  value: string
  where: LabelSource
}

/** The commit → digest → release trail the governance model asks every promotion to record. */
export const TRACE_LABELS = {
  source: 'org.opencontainers.image.source',
  revision: 'org.opencontainers.image.revision',
  created: 'org.opencontainers.image.created',
} as const

export type TraceLabels = Partial<Record<keyof typeof TRACE_LABELS, string>>

/** Every annotation and config label of one image manifest, annotations first (they win on a clash). */
async function imageLabels(target: ReadOnlyTarget, m: Manifest): Promise<Map<string, FoundLabel>> {
  const found = new Map<string, FoundLabel>()
  if (m.kind === 'image') {
    const config = isImageConfig(m.image.config) ? await readConfig(target, m.image.config) : undefined
    for (const [name, value] of Object.entries(config?.config?.Labels ?? {})) {
      found.set(name, { name, value, where: 'label' })
    }
  }
  for (const [name, value] of Object.entries(annotationsOf(m) ?? {})) {
    found.set(name, { name, value, where: 'annotation' })
  }
  return found
}

// buildx stores provenance as index children with platform unknown/unknown: not images that run.
export const runnable = (d: { platform?: { os: string } }) => d.platform?.os !== 'unknown'

/**
 * The labels an image carries. For an index: its own annotations, else what every platform image has
 * (a label only one platform carries is not the release's label), taking the first platform's value.
 */
export async function labelsOf(target: ReadOnlyTarget, m: Manifest): Promise<Map<string, FoundLabel>> {
  const own = await imageLabels(target, m)
  if (m.kind !== 'index') return own
  const children = m.index.manifests.filter(runnable)
  const perChild = await Promise.all(
    children.map(async (d) => imageLabels(target, await target.fetchManifest(d.digest))),
  )
  const [first, ...rest] = perChild
  for (const [name, label] of first ?? []) {
    if (own.has(name) || !rest.every((c) => c.get(name) !== undefined)) continue
    // A platform image whose value is empty makes the release's label empty, not the first one's value.
    const blank = rest.map((c) => c.get(name)!).find((l) => isBlank(l.value))
    own.set(name, blank ?? label)
  }
  return own
}

/** A label set to nothing: `""` or only spaces. */
export const isBlank = (value: string): boolean => value.trim() === ''

export function traceLabels(found: Map<string, FoundLabel>): TraceLabels {
  const out: TraceLabels = {}
  for (const [key, name] of Object.entries(TRACE_LABELS) as [keyof TraceLabels, string][]) {
    const value = found.get(name)?.value
    if (value !== undefined) out[key] = value
  }
  return out
}
