/**
 * One image site read as a reference, and the edits that pin it. Helm values and kustomizations spread
 * a reference over several keys; they are read as one and written back key by key.
 */
import type { Scalar } from 'yaml'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { parseRegistryReference, type RegistryReference } from '../reference/index.js'
import { type Site, siteNodes } from './sites.js'
import { appendPair, type Edit, replaceScalar, scalarSource } from './splice.js'

export type ReadImage =
  | { ref: RegistryReference; written: string }
  /** Left alone, with why: a template, a tag that is not in this file. */
  | { skip: string; written: string }
  | { error: string; written: string }

export interface Pinned {
  registry: string
  repository: string
  tag?: string
  digest: Digest
}

const TEMPLATE = /\$\{|\{\{/

function compose(parts: { registry?: string; repository: string; tag?: string; digest?: string }) {
  const registry = parts.registry ? `${parts.registry.replace(/\/$/, '')}/` : ''
  return `${registry}${parts.repository}${parts.tag ? `:${parts.tag}` : ''}${parts.digest ? `@${parts.digest}` : ''}`
}

function written(text: string, site: Site): { value: string; skip?: string } {
  if (site.kind === 'ref') return { value: scalarSource(text, site.node) }
  if (site.kind === 'text') return { value: text.slice(site.start, site.end), skip: site.skip }
  const field = (n: Scalar | undefined) => (n ? scalarSource(text, n) : '')
  if (site.kind === 'helm') {
    const value = compose({
      registry: field(site.globalRegistry) || field(site.registry),
      repository: field(site.repository),
      tag: field(site.tag),
      digest: field(site.digest),
    })
    const none = !field(site.tag) && !field(site.digest)
    return { value, skip: none ? 'no tag or digest here (the chart’s default applies)' : undefined }
  }
  const value = compose({
    repository: field(site.newName) || field(site.name),
    tag: field(site.newTag),
    digest: field(site.digest),
  })
  const none = !field(site.newTag) && !field(site.digest)
  return { value, skip: none ? 'no newTag or digest (the tag comes from the resources)' : undefined }
}

export function readImage(text: string, site: Site): ReadImage {
  const { value, skip } = written(text, site)
  if (site.kind === 'text' && site.error) return { error: site.error, written: value }
  if (site.kind === 'text' && skip) return { skip, written: value }
  if (siteNodes(site).some((n) => n?.type === 'BLOCK_LITERAL' || n?.type === 'BLOCK_FOLDED'))
    return { error: 'a block scalar (| or >) holds the image; write it on one line', written: value }
  if (TEMPLATE.test(value)) return { skip: 'a template: resolved at deploy time, left alone', written: value }
  if (skip) return { skip, written: value }
  try {
    return { ref: parseRegistryReference(value), written: value }
  } catch (err) {
    return { error: (err as Error).message, written: value }
  }
}

export const pinnedReference = (p: Pinned) =>
  `${p.registry}/${p.repository}${p.tag ? `:${p.tag}` : ''}@${p.digest}`

/** The edits that make the site name `p`; the tag stays for people, the digest is what runs. */
export function pinEdits(text: string, site: Site, p: Pinned): Edit[] {
  if (site.kind === 'ref') return [replaceScalar(text, site.node, pinnedReference(p))]
  if (site.kind === 'text') return [{ start: site.start, end: site.end, text: pinnedReference(p) }]
  if (site.kind === 'kustomize') {
    const set = (node: typeof site.newName, key: string, value: string) =>
      node ? replaceScalar(text, node, value) : appendPair(text, site.map, key, value)
    return [
      set(site.newName, 'newName', `${p.registry}/${p.repository}`),
      set(site.digest, 'digest', p.digest),
    ]
  }
  const edits: Edit[] = []
  if (site.globalRegistry) edits.push(replaceScalar(text, site.globalRegistry, p.registry))
  if (site.registry) edits.push(replaceScalar(text, site.registry, p.registry))
  const hostInRepository = !site.registry && !site.globalRegistry
  edits.push(
    replaceScalar(text, site.repository, hostInRepository ? `${p.registry}/${p.repository}` : p.repository),
  )
  if (site.digest) edits.push(replaceScalar(text, site.digest, p.digest))
  else if (site.tag) edits.push(replaceScalar(text, site.tag, `${p.tag ?? ''}@${p.digest}`))
  else throw new FerryError('INTERNAL', `${site.at}: neither tag nor digest to pin`)
  return edits
}
