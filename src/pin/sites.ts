/**
 * Where a deployment file names its images: the scalars `ferry pin` reads and rewrites. Each format has
 * its own places (see `findSites`); an anchored value reached through an alias or a `<<` merge is found
 * once, at the anchor, since that is the text to change (and `sharedWith` says where else that text
 * is read: see anchors.ts).
 */
import { type Document, isAlias, isMap, isScalar, isSeq, type Scalar, type YAMLMap } from 'yaml'
import { usesOutside } from './anchors.js'

export type Format = 'compose' | 'kubernetes' | 'helm' | 'kustomize' | 'dockerfile'

/** A whole reference in one scalar: Compose, Kubernetes, `--any-image-key`. */
export interface RefSite {
  kind: 'ref'
  /** `services.db.image`, `[1].spec.template.spec.containers[0].image`: for people. */
  at: string
  node: Scalar
}

/** A Helm values map with `repository` and `tag`/`digest`/`registry` (bitnami-style). */
export interface HelmSite {
  kind: 'helm'
  at: string
  repository: Scalar
  tag?: Scalar
  digest?: Scalar
  registry?: Scalar
  /** `global.imageRegistry`, which overrides every `registry` in bitnami charts. */
  globalRegistry?: Scalar
}

/** A kustomization `images:` entry. */
export interface KustomizeSite {
  kind: 'kustomize'
  at: string
  map: YAMLMap
  name: Scalar
  newName?: Scalar
  newTag?: Scalar
  digest?: Scalar
}

/** A whole reference at a range of a text that is not YAML: a Dockerfile's FROM, ARG default, --from. */
export interface TextSite {
  kind: 'text'
  at: string
  start: number
  end: number
  /** Left alone, with why: chosen at build time (an ARG without default, an expression). */
  skip?: string
  /** Cannot be rewritten where it is written, with why. */
  error?: string
}

export type Site = (RefSite | HelmSite | KustomizeSite | TextSite) & {
  /**
   * Places outside image positions that read the same anchored scalar (`UPSTREAM_IMAGE: *img`):
   * rewriting the anchor would change them too.
   */
  sharedWith?: string[]
}

/** A site of a YAML file. */
export type YamlSite = Site & (RefSite | HelmSite | KustomizeSite)

/** The scalars a site reads (and may rewrite). */
export function siteNodes(site: Site): (Scalar | undefined)[] {
  if (site.kind === 'ref') return [site.node]
  if (site.kind === 'helm')
    return [site.repository, site.tag, site.digest, site.registry, site.globalRegistry]
  if (site.kind === 'kustomize') return [site.name, site.newName, site.newTag, site.digest]
  return []
}

/** Where a YAML site starts: the scalar that names the image. */
export const siteNode = (site: YamlSite): Scalar =>
  site.kind === 'ref' ? site.node : site.kind === 'helm' ? site.repository : site.name

const WORKLOADS: Record<string, string[]> = {
  Pod: ['spec'],
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  ReplicaSet: ['spec', 'template', 'spec'],
  ReplicationController: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
}
const CONTAINER_LISTS = ['containers', 'initContainers', 'ephemeralContainers']

/** Follows an alias to what it names; anything else as it is. */
export function deref(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node
}

/** The node under `key` in a map as written (an alias stays one), looking through `<<` merges as YAML 1.1 (and Compose) do. */
function getWritten(doc: Document, map: unknown, key: string): unknown {
  const m = deref(doc, map)
  if (!isMap(m)) return undefined
  let merged: unknown
  for (const pair of m.items) {
    const k = isScalar(pair.key) ? pair.key.value : undefined
    if (k === key) return pair.value
    if (k === '<<' && merged === undefined) {
      const sources = deref(doc, pair.value)
      for (const source of isSeq(sources) ? sources.items : [sources]) {
        merged = getWritten(doc, source, key)
        if (merged !== undefined) break
      }
    }
  }
  return merged
}

/** The value under `key` in a map, aliases followed. */
export const get = (doc: Document, map: unknown, key: string): unknown =>
  deref(doc, getWritten(doc, map, key))

/** The nodes written at the image positions found so far: what an alias there is, is an image. */
type ImagePlaces = Set<unknown>

function hold(places: ImagePlaces, doc: Document, map: unknown, keys: string[]): void {
  for (const key of keys) {
    const written = getWritten(doc, map, key)
    if (written !== undefined) places.add(written)
  }
}

const getPath = (doc: Document, node: unknown, path: string[]) =>
  path.reduce<unknown>((n, key) => get(doc, n, key), node)

export const stringScalar = (node: unknown): node is Scalar =>
  isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')

export function entries(doc: Document, map: unknown): [string, unknown][] {
  const m = deref(doc, map)
  if (!isMap(m)) return []
  return m.items.flatMap((p) =>
    isScalar(p.key) && p.key.value !== '<<' ? [[String(p.key.value), p.value] as [string, unknown]] : [],
  )
}

function compose(doc: Document, prefix: string, places: ImagePlaces): YamlSite[] {
  return entries(doc, get(doc, doc.contents, 'services')).flatMap(([name, service]) => {
    const image = get(doc, service, 'image')
    if (!stringScalar(image)) return []
    hold(places, doc, service, ['image'])
    return [{ kind: 'ref' as const, at: `${prefix}services.${name}.image`, node: image }]
  })
}

function kubernetes(doc: Document, prefix: string, places: ImagePlaces): YamlSite[] {
  const kind = get(doc, doc.contents, 'kind')
  const path = isScalar(kind) ? WORKLOADS[String(kind.value)] : undefined
  if (!path) return []
  const podSpec = getPath(doc, doc.contents, path)
  const sites: YamlSite[] = []
  for (const list of CONTAINER_LISTS) {
    const seq = get(doc, podSpec, list)
    if (!isSeq(seq)) continue
    seq.items.forEach((container, i) => {
      const image = get(doc, container, 'image')
      if (!stringScalar(image)) return
      hold(places, doc, container, ['image'])
      sites.push({ kind: 'ref', at: `${prefix}${path.join('.')}.${list}[${i}].image`, node: image })
    })
  }
  return sites
}

/** Visits every map in the document with its path; `visit` returns true to look no deeper. */
function eachMap(doc: Document, visit: (map: YAMLMap, at: string) => boolean) {
  const walk = (node: unknown, at: string) => {
    const n = deref(doc, node)
    if (isSeq(n))
      n.items.forEach((item, i) => {
        walk(item, `${at}[${i}]`)
      })
    if (!isMap(n) || visit(n, at)) return
    for (const [key, value] of entries(doc, n)) walk(value, at ? `${at}.${key}` : key)
  }
  walk(doc.contents, '')
}

function scalarAt(doc: Document, map: unknown, key: string): Scalar | undefined {
  const v = get(doc, map, key)
  return isScalar(v) ? v : undefined
}

function helm(doc: Document, places: ImagePlaces): YamlSite[] {
  const globalMap = get(doc, doc.contents, 'global')
  const global = get(doc, globalMap, 'imageRegistry')
  const globalRegistry = stringScalar(global) && String(global.value) !== '' ? global : undefined
  const sites: YamlSite[] = []
  eachMap(doc, (map, at) => {
    const repository = get(doc, map, 'repository')
    const [tag, digest, registry] = ['tag', 'digest', 'registry'].map((key) => scalarAt(doc, map, key))
    if (!stringScalar(repository) || !(tag || digest || registry)) return false
    hold(places, doc, map, ['repository', 'tag', 'digest', 'registry'])
    if (globalRegistry) hold(places, doc, globalMap, ['imageRegistry'])
    sites.push({ kind: 'helm', at: at || '.', repository, tag, digest, registry, globalRegistry })
    return true
  })
  return sites
}

function kustomize(doc: Document, places: ImagePlaces): YamlSite[] {
  const images = get(doc, doc.contents, 'images')
  if (!isSeq(images)) return []
  return images.items.flatMap((entry, i) => {
    const map = deref(doc, entry)
    const name = get(doc, map, 'name')
    if (!isMap(map) || !stringScalar(name)) return []
    hold(places, doc, map, ['name', 'newName', 'newTag', 'digest'])
    const field = (key: string) => scalarAt(doc, map, key)
    return [
      {
        kind: 'kustomize' as const,
        at: `images[${i}]`,
        map,
        name,
        newName: field('newName'),
        newTag: field('newTag'),
        digest: field('digest'),
      },
    ]
  })
}

/** kbld's rule for CRDs: any key named `image` with a string value, anywhere. */
function anyImageKeySites(doc: Document, prefix: string, places: ImagePlaces): YamlSite[] {
  const sites: YamlSite[] = []
  eachMap(doc, (map, at) => {
    const image = get(doc, map, 'image')
    if (!isScalar(image) || typeof image.value !== 'string') return false
    hold(places, doc, map, ['image'])
    sites.push({ kind: 'ref', at: `${prefix}${at ? `${at}.` : ''}image`, node: image })
    return false
  })
  return sites
}

/** The format of a file by its name, or, for any other YAML file, by what its documents hold. */
export function detectFormat(name: string, docs: Document[]): Format | undefined {
  if (/^kustomization\.ya?ml$/.test(name)) return 'kustomize'
  if (/^(docker-)?compose.*\.ya?ml$/.test(name)) return 'compose'
  if (/^values.*\.ya?ml$/.test(name)) return 'helm'
  const top = (doc: Document, key: string) => get(doc, doc.contents, key) !== undefined
  if (docs.some((d) => top(d, 'apiVersion') && top(d, 'kind'))) {
    const kind = get(docs[0]!, docs[0]!.contents, 'kind')
    return isScalar(kind) && kind.value === 'Kustomization' ? 'kustomize' : 'kubernetes'
  }
  if (docs.some((d) => isMap(get(d, d.contents, 'services')))) return 'compose'
  return undefined
}

/**
 * Every image site of a file's documents, each scalar once (an anchor shared by aliases is one site),
 * with `sharedWith` set where an anchored image scalar is also read outside image positions.
 */
export function findSites(format: Format | undefined, docs: Document[], anyImageKey: boolean): YamlSite[] {
  const seen = new Set<number>()
  const unique = (s: YamlSite) => {
    const start = siteNode(s).range![0]
    if (seen.has(start)) return false
    seen.add(start)
    return true
  }
  return docs.flatMap((doc, i) => {
    const prefix = docs.length > 1 ? `[${i}].` : ''
    const places: ImagePlaces = new Set()
    const sites: YamlSite[] = []
    if (format === 'compose') sites.push(...compose(doc, prefix, places))
    if (format === 'kubernetes') sites.push(...kubernetes(doc, prefix, places))
    if (format === 'helm') sites.push(...helm(doc, places))
    if (format === 'kustomize') sites.push(...kustomize(doc, places))
    if (anyImageKey) sites.push(...anyImageKeySites(doc, prefix, places))
    const found = sites.filter(unique)
    const scalars = new Set(found.flatMap(siteNodes).filter((n) => n !== undefined))
    const uses = usesOutside(doc, scalars, places, { prefix, compose: format === 'compose' })
    for (const site of found) {
      const shared = siteNodes(site).flatMap((n) => (n && uses.get(n)) || [])
      if (shared.length) site.sharedWith = shared
    }
    return found
  })
}
