import { describe, expect, it } from 'vitest'
import { type Document, parseAllDocuments } from 'yaml'
import { pinEdits, readImage } from '../../../src/pin/images.js'
import { detectFormat, findSites } from '../../../src/pin/sites.js'
import { applyEdits } from '../../../src/pin/splice.js'

const DIGEST = `sha256:${'ab'.repeat(32)}` as const
const PLACE = { registry: 'reg.local:5000', repository: 'cache/x', digest: DIGEST } as const

// A file that parses is an array of documents; an empty one is an (also iterable) empty stream.
const yamlDocs = (text: string) => [...parseAllDocuments(text)] as Document[]

/** The file's sites as read, and the text with every site pinned to reg.local:5000/cache/x (tag kept). */
function run(name: string, text: string, anyImageKey = false) {
  const docs = yamlDocs(text)
  const format = detectFormat(name, docs)
  const sites = findSites(format, docs, anyImageKey)
  const read = sites.map((s) => readImage(text, s))
  const edits = sites.flatMap((s, i) => {
    const r = read[i]!
    return 'ref' in r ? pinEdits(text, s, { ...PLACE, tag: r.ref.tag }) : []
  })
  return {
    format,
    at: sites.map((s) => s.at),
    written: read.map((r) => r.written),
    out: applyEdits(text, edits),
  }
}

const podSpec = (kind: string, path: string[], extra = '') => {
  let text = `apiVersion: v1\nkind: ${kind}\n`
  let indent = ''
  for (const key of path) {
    text += `${indent}${key}:\n`
    indent += '  '
  }
  return `${text}${indent}containers:\n${indent}- name: a\n${indent}  image: app:1${extra}\n`
}

describe('image sites by format', () => {
  it.each([
    ['Pod', ['spec']],
    ['StatefulSet', ['spec', 'template', 'spec']],
    ['DaemonSet', ['spec', 'template', 'spec']],
    ['ReplicaSet', ['spec', 'template', 'spec']],
    ['ReplicationController', ['spec', 'template', 'spec']],
    ['Job', ['spec', 'template', 'spec']],
    ['CronJob', ['spec', 'jobTemplate', 'spec', 'template', 'spec']],
  ])('Kubernetes %s: its pod spec’s containers', (kind, path) => {
    const r = run('w.yaml', podSpec(kind, path))
    expect(r.format).toBe('kubernetes')
    expect(r.at).toEqual([`${path.join('.')}.containers[0].image`])
    expect(r.out).toContain(`  image: reg.local:5000/cache/x:1@${DIGEST}\n`)
  })

  it('a chart template that happens to parse ({{ … }} read as flow maps with empty values) is read, not a crash', () => {
    const text = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: {{ include "mini.fullname" . }}',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      '        - image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
      '        - image: {{ include "mini.image" . | quote }}',
      '',
    ].join('\n')
    const r = run('deployment.yaml', text)
    expect(r.at).toEqual(['spec.template.spec.containers[0].image'])
    expect(r.out).toBe(text)
  })

  it('Kubernetes ephemeralContainers too; an unknown kind only with --any-image-key', () => {
    const pod = 'kind: Pod\napiVersion: v1\nspec:\n  ephemeralContainers:\n  - image: dbg:2\n'
    expect(run('p.yaml', pod).at).toEqual(['spec.ephemeralContainers[0].image'])
    const crd = 'apiVersion: acme.io/v1\nkind: Thing\nspec:\n  runner:\n    image: tool:3\n  tag: x\n'
    expect(run('c.yaml', crd).at).toEqual([])
    expect(run('c.yaml', crd, true).at).toEqual(['spec.runner.image'])
  })

  it('Compose: images through an alias and a << merge of several maps are one site each', () => {
    const text = [
      'x-img: &img "pg:16"',
      'x-base: &base {restart: always}',
      'x-py: &py',
      '  image: py:3',
      'services:',
      '  a: {image: *img}',
      '  b:',
      '    <<: [*base, *py]',
      '  c:',
      '    image: *img',
      '',
    ].join('\n')
    const r = run('compose.yaml', text)
    expect(r.at).toEqual(['services.a.image', 'services.b.image'])
    expect(r.out).toBe(
      text
        .replace('"pg:16"', `"reg.local:5000/cache/x:16@${DIGEST}"`)
        .replace('py:3', `reg.local:5000/cache/x:3@${DIGEST}`),
    )
  })

  it('an anchored image also used outside image positions names those uses; one used only as images does not', () => {
    const text = [
      'x-img: &img postgres:16',
      'services:',
      '  db:',
      '    image: *img',
      '    environment:',
      '      UPSTREAM_IMAGE: *img',
      '    labels: {note: *img}',
      '  cache:',
      '    image: &own redis:7',
      '    command: [echo, *own]',
      '  web:',
      '    image: &alone nginx:1',
      '',
    ].join('\n')
    const sites = findSites('compose', yamlDocs(text), false)
    expect(sites.map((s) => [s.at, s.sharedWith])).toEqual([
      ['services.db.image', ['services.db.environment.UPSTREAM_IMAGE', 'services.db.labels.note']],
      ['services.cache.image', ['services.cache.command[1]']],
      ['services.web.image', undefined],
    ])
    // The anchor's own place counts too, unless it is a Compose extension field (x-…), which Compose never reads.
    const defined = 'services:\n  a:\n    environment: {IMG: &i pg:16}\n    image: *i\n'
    expect(findSites('compose', yamlDocs(defined), false).map((s) => s.sharedWith)).toEqual([
      ['services.a.environment.IMG'],
    ])
  })

  it('detects the format from content for other names, and from the name first', () => {
    expect(run('stack.yml', 'services:\n  a:\n    image: a:1\n').format).toBe('compose')
    expect(run('values-prod.yaml', 'image:\n  repository: a\n  tag: "1"\n').format).toBe('helm')
    expect(run('k.yaml', 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n').format).toBe(
      'kustomize',
    )
    expect(run('notes.yaml', 'a: 1\n').format).toBe(undefined)
  })

  it('Helm: a map needs repository plus tag, digest or registry; templates and missing tags are left alone', () => {
    const text = [
      'a:',
      '  repository: x', // no tag/digest/registry: not an image map
      'b:',
      '  repository: y',
      '  tag: ""', // the chart's appVersion applies
      'c:',
      '  repository: "{{ .Values.repo }}"',
      '  tag: "1"',
      '',
    ].join('\n')
    const docs = yamlDocs(text)
    const sites = findSites('helm', docs, false)
    expect(sites.map((s) => s.at)).toEqual(['b', 'c'])
    expect(sites.map((s) => readImage(text, s))).toEqual([
      { skip: 'no tag or digest here (the chart’s default applies)', written: 'y' },
      { skip: 'a template: resolved at deploy time, left alone', written: '{{ .Values.repo }}:1' },
    ])
  })

  it('kustomize: adds newName and digest at the entry’s indentation, keeping trailing comments', () => {
    const text = 'images:\n  - name: pg # db\n    newTag: "16" # pinned below\nresources: [a.yaml]\n'
    expect(run('kustomization.yaml', text).out).toBe(
      `images:\n  - name: pg # db\n    newTag: "16" # pinned below\n    newName: reg.local:5000/cache/x\n    digest: ${DIGEST}\nresources: [a.yaml]\n`,
    )
  })

  it('keeps each quoting style; an empty value gets a space; a block scalar is refused', () => {
    const text = 'services:\n  a: {image: \'a:1\'}\n  b:\n    image: "b:2"\n  c:\n    image: c\n'
    expect(run('compose.yaml', text).out).toBe(
      `services:\n  a: {image: 'reg.local:5000/cache/x:1@${DIGEST}'}\n  b:\n    image: "reg.local:5000/cache/x:2@${DIGEST}"\n  c:\n    image: reg.local:5000/cache/x@${DIGEST}\n`,
    )
    const values = 'image:\n  repository: a\n  tag: "1"\n  digest:\n'
    expect(run('values.yaml', values).out).toBe(
      `image:\n  repository: reg.local:5000/cache/x\n  tag: "1"\n  digest: ${DIGEST}\n`,
    )
    const folded = 'services:\n  a:\n    image: >-\n      a:1\n'
    const [site] = findSites('compose', yamlDocs(folded), false)
    const block = readImage(folded, site!)
    expect(block).toEqual({
      error: 'a block scalar (| or >) holds the image; write it on one line',
      written: 'a:1',
    })
  })
})
