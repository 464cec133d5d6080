import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Digest } from '../../src/oci/digest.js'
import { keyGate, mappingOutNames, pin, registryNames } from '../../src/pin/index.js'
import { singleKeySet } from '../../src/sign/key-set.js'
import { testContext } from '../helpers/context.js'
import { makeKeys } from '../supply/helpers.js'
import { copyInputs, FIXTURES, type Site, startSite } from './helpers.js'

describe('ferry pin against ferry serve', () => {
  let site: Site
  const names = () => registryNames(`${site.host}/site`, {})
  const gate = () => keyGate(singleKeySet(site.keys.pub, 'release.pub'))

  beforeAll(async () => {
    site = await startSite()
    await site.push('site/library/redis', '7', { sign: null })
  }, 60_000)
  afterAll(() => site?.stop())

  async function write(dir: string, files: Record<string, string>): Promise<string> {
    const path = join(site.dir, dir)
    await mkdir(path, { recursive: true })
    for (const [name, text] of Object.entries(files)) await writeFile(join(path, name), text)
    return path
  }

  it('refuses the whole run for one unsigned image and writes nothing, not even the lock', async () => {
    const input = await copyInputs(site, 'unsigned')
    const compose = join(input, 'compose.yaml')
    const original = await readFile(compose, 'utf8')
    await writeFile(
      compose,
      original.replace('volumes:\n  pgdata', '  cache:\n    image: redis:7\n\nvolumes:\n  pgdata'),
    )
    const before = await readFile(compose, 'utf8')
    const report = await pin(testContext(), {
      inputs: [input],
      names: names(),
      gate: gate(),
      inPlace: true,
    })
    expect(report.ok).toBe(false)
    expect(report.written).toEqual([])
    const failed = report.files.flatMap((f) => f.images.filter((i) => i.verdict === 'failed'))
    expect(failed.map((i) => [i.at, i.before])).toEqual([['services.cache.image', 'redis:7']])
    expect(failed[0]!.messages).toEqual([
      expect.stringMatching(/^release\.pub: no signature found for sha256:[0-9a-f]{64}/),
    ])
    expect(report.counts.pinned).toBe(13) // the others passed, and still nothing was written
    expect(await readFile(compose, 'utf8')).toBe(before)
    expect((await readdir(input)).sort()).toEqual([
      'compose.yaml',
      'kustomization.yaml',
      'values.yaml',
      'workloads.yaml',
    ])
  })

  it('fails an image that does not resolve on the internal registry, naming it', async () => {
    const dir = await write('missing', { 'compose.yaml': 'services:\n  a:\n    image: nginx:1.27\n' })
    const report = await pin(testContext(), {
      inputs: [dir],
      names: names(),
      gate: gate(),
      out: join(dir, 'out'),
    })
    expect(report.ok).toBe(false)
    expect(report.files[0]!.images[0]!.messages).toEqual([
      `${site.host}/site/library/nginx:1.27 does not resolve on ${site.host}`,
    ])
    expect(await readdir(dir)).toEqual(['compose.yaml'])
  })

  it('--check lists what is not pinned before, and passes after', async () => {
    const input = await copyInputs(site, 'check')
    const before = await pin(testContext(), { inputs: [input], names: names(), check: true })
    expect(before.ok).toBe(false)
    expect(before.counts).toEqual({ pinned: 0, kept: 0, unverified: 0, failed: 0, skipped: 2, unpinned: 13 })
    expect(before.written).toEqual([])
    const out = join(site.dir, 'check-out')
    expect((await pin(testContext(), { inputs: [input], names: names(), gate: gate(), out })).ok).toBe(true)
    const after = await pin(testContext(), { inputs: [out], names: names(), check: true })
    expect(after.ok).toBe(true)
    expect(after.counts).toEqual({ pinned: 13, kept: 0, unverified: 0, failed: 0, skipped: 2, unpinned: 0 })
  })

  it('keeps internal references: verifies them, adds a missing digest, and never maps them twice', async () => {
    const pg = site.digests['site/library/postgres'] as Digest
    const api = site.digests['site/acme/mini-api']!
    const text = [
      'services:',
      `  db: {image: "${site.host}/site/library/postgres:16@${pg}"}`,
      `  api: {image: ${site.host}/site/acme/mini-api:1.0}`,
      `  old: {image: "ghcr.io/acme/mini-api:1.0@${api}"}`,
      '',
    ].join('\n')
    const dir = await write('internal', { 'compose.yaml': text })
    const report = await pin(testContext(), {
      inputs: [join(dir, 'compose.yaml')],
      names: names(),
      gate: gate(),
      inPlace: true,
    })
    expect(report.files[0]!.images.map((i) => i.verdict)).toEqual(['kept', 'pinned', 'pinned'])
    expect(await readFile(join(dir, 'compose.yaml'), 'utf8')).toBe(
      [
        'services:',
        `  db: {image: "${site.host}/site/library/postgres:16@${pg}"}`,
        `  api: {image: ${site.host}/site/acme/mini-api:1.0@${api}}`,
        `  old: {image: "${site.host}/site/acme/mini-api:1.0@${api}"}`,
        '',
      ].join('\n'),
    )
    // --in-place with a file argument: the lock goes beside the file.
    expect(await readdir(dir)).toEqual(['compose.yaml', 'ferry.lock.json'])
  })

  it('fills bitnami-style global.imageRegistry and each registry key', async () => {
    const values = [
      'global:',
      '  imageRegistry: docker.io # everything comes from here',
      'image:',
      '  registry: docker.io',
      '  repository: library/postgres',
      '  tag: "16"',
      'metrics:',
      '  image:',
      '    repository: library/python',
      '    tag: 3.12-slim',
      '',
    ].join('\n')
    const dir = await write('bitnami', { 'values.yaml': values })
    const report = await pin(testContext(), {
      inputs: [dir],
      names: names(),
      gate: gate(),
      out: join(dir, 'out'),
    })
    expect(report.counts.pinned).toBe(2)
    expect(await readFile(join(dir, 'out', 'values.yaml'), 'utf8')).toBe(
      [
        'global:',
        `  imageRegistry: ${site.host} # everything comes from here`,
        'image:',
        `  registry: ${site.host}`,
        '  repository: site/library/postgres',
        `  tag: "16@${site.digests['site/library/postgres']}"`,
        'metrics:',
        '  image:',
        '    repository: site/library/python',
        `    tag: 3.12-slim@${site.digests['site/library/python']}`,
        '',
      ].join('\n'),
    )
  })

  it('--allow-unverified pins an image that fails, and the lock file says so', async () => {
    const other = makeKeys()
    const dir = await write('allow', { 'compose.yaml': 'services:\n  c:\n    image: redis:7\n' })
    const report = await pin(testContext(), {
      inputs: [dir],
      names: names(),
      gate: keyGate(singleKeySet(other.pub, 'other.pub')),
      out: join(dir, 'out'),
      allowUnverified: true,
    })
    expect(report.ok).toBe(true)
    expect(report.counts.unverified).toBe(1)
    const lock = JSON.parse(await readFile(join(dir, 'out', 'ferry.lock.json'), 'utf8'))
    expect(lock.images).toEqual([
      {
        original: 'redis:7',
        pinned: `${site.host}/site/library/redis:7@${site.digests['site/library/redis']}`,
        digest: site.digests['site/library/redis'],
        verified: false,
        evidence: { signatures: [], keys: [], sboms: [] },
        warnings: [expect.stringMatching(/^other\.pub: no signature found/)],
        sites: ['compose.yaml: services.c.image'],
      },
    ])
  })

  it('applies --strip-components and a --mapping YAML map as bundle import does', async () => {
    await site.push('site/postgres', '16')
    await site.push('site/db/python', '3.12-slim')
    const dir = await write('strip', {
      'compose.yaml': 'services:\n  a:\n    image: postgres:16\n  b:\n    image: python:3.12-slim\n',
    })
    const report = await pin(testContext(), {
      inputs: [dir],
      names: registryNames(`${site.host}/site`, {
        stripComponents: 1,
        mapping: { 'docker.io/library/python': 'db/python' },
      }),
      gate: gate(),
      out: join(dir, 'out'),
    })
    expect(report.files[0]!.images.map((i) => i.after?.split('@')[0])).toEqual([
      `${site.host}/site/postgres:16`,
      `${site.host}/site/db/python:3.12-slim`,
    ])
  })

  it('walks past chart templates that are not YAML, but fails on one named explicitly', async () => {
    const dir = await write('chart', { 'values.yaml': 'image:\n  repository: postgres\n  tag: "16"\n' })
    await mkdir(join(dir, 'templates'))
    const template = join(dir, 'templates', 'pod.yaml')
    await writeFile(
      template,
      '{{- if .Values.enabled }}\nkind: Pod\nspec:\n  containers:\n  - image: "{{ .Values.image.repository }}"\n{{- end }}\n',
    )
    const report = await pin(testContext(), {
      inputs: [dir],
      names: names(),
      gate: gate(),
      out: join(dir, 'out'),
    })
    expect(report.ok).toBe(true)
    expect(report.ignored.map((i) => i.file)).toEqual([template])
    expect(report.files.map((f) => f.file)).toEqual([join(dir, 'values.yaml')])
    await expect(
      pin(testContext(), { inputs: [template], names: names(), gate: gate(), out: join(dir, 'out2') }),
    ).rejects.toThrow(
      new RegExp(`^${template}:1:3: Block collections are not allowed within flow collections`),
    )
  })

  it('--mapping FILE.json: fails an image whose tag no longer names the digest the import recorded', async () => {
    const file = (digest: Digest) => ({
      formatVersion: 1 as const,
      bundle: { name: 'b', version: '1' },
      images: [
        {
          source: 'docker.io/library/postgres:16',
          destination: `${site.host}/site/library/postgres:16`,
          digest,
          pinned: `${site.host}/site/library/postgres@${digest}`,
        },
      ],
    })
    const dir = await write('moved', { 'compose.yaml': 'services:\n  db:\n    image: postgres:16\n' })
    const pg = site.digests['site/library/postgres'] as Digest
    const good = await pin(testContext(), {
      inputs: [dir],
      names: mappingOutNames(file(pg), 'images.json'),
      gate: gate(),
      out: join(site.dir, 'moved-a'),
    })
    expect(good.counts.pinned).toBe(1)
    const stale = `sha256:${'0'.repeat(64)}` as const
    const moved = await pin(testContext(), {
      inputs: [dir],
      names: mappingOutNames(file(stale), 'images.json'),
      gate: gate(),
      out: join(site.dir, 'moved-b'),
    })
    expect(moved.files[0]!.images[0]!.messages).toEqual([
      `${site.host}/site/library/postgres:16 names ${pg} now, but the mapping recorded ${stale}`,
    ])
    const unknown = await pin(testContext(), {
      inputs: [await write('unknown', { 'compose.yaml': 'services:\n  db:\n    image: postgres:15\n' })],
      names: mappingOutNames(file(pg), 'images.json'),
      gate: gate(),
      out: join(site.dir, 'moved-c'),
    })
    expect(unknown.files[0]!.images[0]!.messages).toEqual([
      'docker.io/library/postgres:15 is not in images.json (it has 16): add an "images" entry with ' +
        '"source": "docker.io/library/postgres:15" (bundle import --mapping-out writes them), or give ' +
        '--registry HOST/PREFIX instead (a --mapping YAML line "docker.io/library/postgres: PATH" picks its path)',
    ])
    expect((await readdir(site.dir)).filter((f) => f.startsWith('moved-'))).toEqual(['moved-a'])
    // TAG@DIGEST: the digest written is resolved and kept, whatever the mapping recorded for the tag.
    const written = await pin(testContext(), {
      inputs: [
        await write('by-digest', { 'compose.yaml': `services:\n  db:\n    image: postgres:16@${pg}\n` }),
      ],
      names: mappingOutNames(file(stale), 'images.json'),
      gate: gate(),
      out: join(site.dir, 'by-digest-out'),
    })
    expect(written.files[0]!.images.map((i) => [i.verdict, i.after])).toEqual([
      ['pinned', `${site.host}/site/library/postgres:16@${pg}`],
    ])
  })

  it('refuses to run with nothing to verify with, before reading the registry', async () => {
    await expect(
      pin(testContext(), { inputs: [join(FIXTURES, 'input')], names: names(), out: join(site.dir, 'x') }),
    ).rejects.toThrow('nothing to verify with: give --key (or --policy), or --allow-unverified')
  })
})
