import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Document, parseAllDocuments, parseDocument } from 'yaml'
import { keyGate, pin, registryNames } from '../../src/pin/index.js'
import { singleKeySet } from '../../src/sign/key-set.js'
import { testContext } from '../helpers/context.js'
import { copyInputs, FIXTURES, type Site, startSite } from './helpers.js'

/** The run-dependent parts of a golden file: the registry's port, and digests (reproducible, but long). */
function expand(text: string, site: Site): string {
  return text
    .replaceAll('<registry>', site.host)
    .replaceAll('<digest:postgres>', site.digests['site/library/postgres']!)
    .replaceAll('<digest:python>', site.digests['site/library/python']!)
    .replaceAll('<digest:mini-api>', site.digests['site/acme/mini-api']!)
}

const FILES = ['compose.yaml', 'kustomization.yaml', 'values.yaml', 'workloads.yaml']

describe('pin rewrites only image scalars, byte for byte', () => {
  let site: Site
  let out: string
  let report: Awaited<ReturnType<typeof pin>>

  beforeAll(async () => {
    site = await startSite()
    const input = await copyInputs(site, 'in')
    out = join(site.dir, 'out')
    report = await pin(testContext(), {
      inputs: [input],
      names: registryNames(`${site.host}/site`, {}),
      gate: keyGate(singleKeySet(site.keys.pub, 'release.pub')),
      out,
    })
  }, 60_000)

  afterAll(() => site?.stop())

  it('pins every image of the four formats, skips the two templates, writes files and lock', async () => {
    expect(report.ok).toBe(true)
    expect(report.counts).toEqual({ pinned: 13, kept: 0, unverified: 0, failed: 0, skipped: 2, unpinned: 0 })
    expect(report.files.map((f) => [f.format, f.changed])).toEqual([
      ['compose', true],
      ['kustomize', true],
      ['helm', true],
      ['kubernetes', true],
    ])
    expect((await readdir(out)).sort()).toEqual([...FILES, 'ferry.lock.json'].sort())
    expect(report.written.at(-1)).toBe(join(out, 'ferry.lock.json'))
  })

  it.each(FILES)('%s matches its golden output exactly', async (name) => {
    const golden = expand(await readFile(join(FIXTURES, 'expected', name), 'utf8'), site)
    expect(await readFile(join(out, name), 'utf8')).toBe(golden)
  })

  it.each(FILES)('%s: every changed line is an image line, and nothing else moved', async (name) => {
    const before = (await readFile(join(FIXTURES, 'input', name), 'utf8')).split('\n')
    const after = (await readFile(join(out, name), 'utf8')).split('\n')
    const added = after.length - before.length
    // A kustomization gains the newName/digest keys its entries lacked; Compose's folded quoted
    // reference becomes one line.
    expect(added).toBe({ 'kustomization.yaml': 4, 'compose.yaml': -1 }[name] ?? 0)
    const changed = after.filter((line) => !before.includes(line))
    expect(changed.length).toBeGreaterThanOrEqual(3)
    // An image line: a key that names an image (or part of one), now carrying the internal name or digest.
    const imageKey = /^\s*(?:- )?(?:image|repository|registry|tag|digest|newName):/
    for (const line of changed) {
      expect(line).toMatch(imageKey)
      expect(line).toMatch(new RegExp(`${site.host}|site/|sha256:[0-9a-f]{64}`))
    }
  })

  it('writes YAML that parses to the pinned references', async () => {
    const docs = parseAllDocuments(await readFile(join(out, 'workloads.yaml'), 'utf8')) as Document[]
    const pg = `${site.host}/site/library/postgres:16@${site.digests['site/library/postgres']}`
    const py = `${site.host}/site/library/python:3.12-slim@${site.digests['site/library/python']}`
    expect(docs[0]!.getIn(['spec', 'template', 'spec', 'initContainers', 0, 'image'])).toBe(pg)
    expect(docs[1]!.getIn(['data', 'image'])).toBe('python:3.12-slim') // a ConfigMap is no pod spec
    const cron = ['spec', 'jobTemplate', 'spec', 'template', 'spec', 'containers', 0, 'image']
    expect(docs[2]!.getIn(cron)).toBe(py)
    const values = parseDocument(await readFile(join(out, 'values.yaml'), 'utf8'))
    expect(values.getIn(['worker', 'image', 'repository'])).toBe(`${site.host}/site/library/python`)
    expect(values.getIn(['worker', 'image', 'tag'])).toBe(`3.12-slim@${site.digests['site/library/python']}`)
    expect(values.getIn(['postgresql', 'image', 'tag'])).toBe(16)
  })

  it('records each image once in the lock file with its evidence', async () => {
    const lock = JSON.parse(await readFile(join(out, 'ferry.lock.json'), 'utf8'))
    expect(lock.formatVersion).toBe(1)
    expect(lock.images.map((i: { original: string }) => i.original)).toEqual([
      'docker.io/library/postgres:16',
      'docker.io/library/python:3.12-slim',
      'ghcr.io/acme/mini-api:1.0',
      'postgres:16',
      'python:3.12-slim',
    ])
    const api = lock.images[2]
    expect(api.digest).toBe(site.digests['site/acme/mini-api'])
    expect(api.verified).toBe(true)
    // Signed in both schemes: the cosign .sig manifest and the bundle referrer both verified.
    expect(api.evidence.signatures).toHaveLength(2)
    expect(api.evidence.keys).toEqual([expect.stringMatching(/^sha256:[0-9a-f]{64}$/)])
    expect(api.sites).toEqual([
      'compose.yaml: services.api.image',
      'compose.yaml: services.report.image',
      'kustomization.yaml: images[1]',
      'values.yaml: image',
      'workloads.yaml: [0].spec.template.spec.containers[0].image',
    ])
  })

  it('leaves the inputs untouched with --out', async () => {
    for (const name of FILES) {
      const copy = join(site.dir, 'in', name)
      expect(await readFile(copy, 'utf8')).toBe(await readFile(join(FIXTURES, 'input', name), 'utf8'))
      expect((await stat(copy)).isFile()).toBe(true)
    }
  })
})
