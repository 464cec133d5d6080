import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { isFerryError } from '../../../src/errors.js'
import { formatLocation, parseLocation } from '../../../src/reference/index.js'
import {
  imageSettings,
  loadSyncSpec,
  placeImage,
  planDestination,
  syncSpecSchema,
} from '../../../src/spec/sync-spec.js'
import { loadYamlSpec } from '../../../src/spec/yaml.js'

const EXAMPLE = fileURLToPath(new URL('../../../examples/sync.example.yaml', import.meta.url))

const load = (text: string) => loadYamlSpec(text, syncSpecSchema, 'sync.yaml')

describe('examples/sync.example.yaml', () => {
  it('loads cleanly, with defaults applied and every image placed', async () => {
    const spec = await loadSyncSpec(EXAMPLE)
    expect(spec.version).toBe(1)
    expect(spec.target).toBe('reg.local:5000/cache')
    expect(spec.concurrency).toBe(4)
    expect(spec.defaults).toEqual({
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      referrers: true,
    })
    expect(spec.images.map((i) => formatLocation(i.source))).toEqual([
      'docker.io/library/postgres:latest',
      'docker.io/library/python:latest',
      'docker.io/library/redis:7.2',
      'ghcr.io/acme/mini-api:1.0@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae',
      'registry.intra/acme/web:latest',
    ])
    expect(spec.images.map((i) => placeImage(spec, i))).toEqual([
      'reg.local:5000/cache/postgres',
      'reg.local:5000/cache/python',
      'reg.local:5000/cache/redis',
      'reg.local:5000/cache/acme/mini-api',
      'reg.local:5000/cache/acme/web',
    ])
    expect(spec.images[0]!.tags).toEqual({ semver: '>=16 <17', exclude: ['*-*'], newest: 2 })
    expect(spec.images[4]!.tags?.match).toBe('/^v\\d+\\.\\d+\\.\\d+-rc/')
    expect(imageSettings(spec, spec.images[2]!)).toEqual({
      platforms: [{ os: 'linux', architecture: 'amd64' }],
      referrers: false,
    })
    expect(imageSettings(spec, spec.images[0]!)).toEqual({
      platforms: spec.defaults.platforms,
      referrers: true,
    })
  })

  it('refuses a missing file', async () => {
    await expect(loadSyncSpec('/nonexistent/sync.yaml')).rejects.toMatchObject({ code: 'USAGE' })
  })
})

describe('placeImage: a source may be any location', () => {
  const spec = {
    target: 'reg.local:5000/cache',
    mappings: [{ from: 'docker.io/library', to: 'reg.local:5000/hub' }],
  }
  it.each([
    ['https://quay.io/org/app', undefined, 'reg.local:5000/cache/org/app'],
    // A bundle's image is placed by the name the bundle gives it, mappings included.
    ['bundle:site.tar:postgres:16', undefined, 'reg.local:5000/hub/postgres'],
    ['bundle:site.tar:ghcr.io/acme/web', undefined, 'reg.local:5000/cache/acme/web'],
    // A layout's repository view has no registry: target + view, or destination.
    ['oci:./site:library/postgres:16', undefined, 'reg.local:5000/cache/library/postgres'],
    ['oci:./site:v1', { destination: 'reg.local:5000/one' }, 'reg.local:5000/one'],
  ])('%s → %s', (source, extra, expected) => {
    expect(placeImage(spec, { source: parseLocation(source), ...extra })).toBe(expected)
  })

  it('refuses what it cannot place', () => {
    expect(() => placeImage({}, { source: parseLocation('oci:./site:team/app:1') })).toThrow(
      'no destination for oci:./site:team/app:1: set destination, or target',
    )
    expect(() => placeImage(spec, { source: parseLocation('oci:./site:localhost:5000/app:1') })).toThrow(
      /repository view "localhost:5000\/app" as a path: invalid path component "localhost:5000"/,
    )
  })
})

describe('planDestination', () => {
  const spec = {
    target: 'reg.local:5000/cache',
    mappings: [
      { from: 'docker.io/library', to: 'reg.local:5000/hub' },
      { from: 'docker.io', to: 'reg.local:5000/hub-users' },
      { from: 'ghcr.io/acme', to: 'reg.local:5000/acme' },
      { from: 'ghcr.io/acme/tools', to: 'reg.local:5000/tools' },
      { from: 'quay.io/org/exact', to: 'reg.local:5000/renamed' },
    ],
  }
  it.each([
    // an explicit destination wins over everything
    ['docker.io/library/postgres', { destination: 'other.reg/pg' }, 'other.reg/pg'],
    // the longest matching prefix
    ['docker.io/library/postgres', undefined, 'reg.local:5000/hub/postgres'],
    ['postgres', undefined, 'reg.local:5000/hub/postgres'],
    ['docker.io/bitnami/redis', undefined, 'reg.local:5000/hub-users/bitnami/redis'],
    ['ghcr.io/acme/mini-api', undefined, 'reg.local:5000/acme/mini-api'],
    ['ghcr.io/acme/tools/lint', undefined, 'reg.local:5000/tools/lint'],
    ['quay.io/org/exact', undefined, 'reg.local:5000/renamed'],
    // whole path components only: ghcr.io/acme does not cover ghcr.io/acme-labs
    ['ghcr.io/acme-labs/x', undefined, 'reg.local:5000/cache/acme-labs/x'],
    // otherwise the target plus the source path
    ['quay.io/org/app', undefined, 'reg.local:5000/cache/org/app'],
    ['localhost:5000/a/b', undefined, 'reg.local:5000/cache/a/b'],
  ])('%s %j → %s', (source, image, expected) => {
    expect(planDestination(source, spec, image)).toBe(expected)
  })

  it('keeps library/ under a bare target host', () => {
    expect(planDestination('redis', { target: 'reg.local:5000' })).toBe('reg.local:5000/library/redis')
  })

  it('refuses what it cannot place', () => {
    expect(() => planDestination('quay.io/a/b', {})).toThrow(/no destination for quay\.io\/a\/b/)
    expect(() =>
      planDestination('quay.io/a/b', { mappings: [{ from: 'quay.io/a/b', to: 'reg.local' }] }),
    ).toThrow(/registry reg\.local alone/)
    let caught: unknown
    try {
      planDestination('Bad/Name', { target: 'reg.local' })
    } catch (err) {
      caught = err
    }
    expect(isFerryError(caught, 'REFERENCE_INVALID')).toBe(true)
  })
})

describe('tags as a plain list', () => {
  it('is shorthand for exact tags, as skopeo-sync and regsync users write it', () => {
    const spec = load(
      'version: 1\ntarget: reg.local\nimages:\n  - source: ghcr.io/acme/web\n    tags: [v1.0.0, latest]\n',
    )
    expect(spec.images[0]!.tags).toEqual({ tags: ['v1.0.0', 'latest'] })
  })

  it('points a bad tag in the list at its element, and an empty list at the list', () => {
    const bad = 'version: 1\ntarget: reg.local\nimages:\n  - source: web\n    tags: [v1, "a b"]\n'
    expect(() => load(bad)).toThrow(/^sync\.yaml:5:16: images\[0\]\.tags\[1\]: /)
    const empty = 'version: 1\ntarget: reg.local\nimages:\n  - source: web\n    tags: []\n'
    expect(() => load(empty)).toThrow(/^sync\.yaml:5:11: images\[0\]\.tags: Too small/)
    const scalar = 'version: 1\ntarget: reg.local\nimages:\n  - source: web\n    tags: latest\n'
    expect(() => load(scalar)).toThrow(
      'sync.yaml:5:11: images[0].tags: expected a list of tags ([v1.0.0, latest]) or a filter',
    )
  })
})

describe('a spec with several problems', () => {
  it('lists every one, each on its own line with its line and column', () => {
    const text = [
      'version: 1',
      'target: reg.local:5000/cache',
      'images:',
      '  - source: docker.io/library/postgres',
      '  - source: nginx',
      '    tags: { semver: "sixteen" }',
      '  - source: redis:7',
      '    platform: [linux/amd64]',
      '',
    ].join('\n')
    let message = ''
    try {
      load(text)
    } catch (err) {
      message = (err as Error).message
    }
    expect(message.split('\n')).toEqual([
      'sync.yaml: 3 problems',
      'sync.yaml:4:13: images[0].source: docker.io/library/postgres is a repository: add a tags filter (exact tags: [v1.0.0, latest]; every tag: { match: "*" }) or name one image with :TAG or @DIGEST',
      'sync.yaml:6:21: images[1].tags.semver: not a valid SemVer range, e.g. ">=16 <17" or "^1.4"',
      'sync.yaml:8:5: images[2].platform: unknown field',
    ])
  })
})

describe('sync spec errors point at the line', () => {
  const base = (images: string, extra = 'target: reg.local:5000/cache\n') =>
    `version: 1\n${extra}images:\n${images}`

  it.each([
    [
      'a repository without a tags filter',
      base('  - source: docker.io/library/postgres\n'),
      'sync.yaml:4:13: images[0].source: docker.io/library/postgres is a repository: add a tags filter',
    ],
    [
      'a pinned image with a tags filter',
      base('  - source: nginx:1.27\n    tags: { newest: 2 }\n'),
      'sync.yaml:5:11: images[0].tags: the source docker.io/library/nginx:1.27 already names one image',
    ],
    [
      'an invalid source reference',
      base('  - source: nginx:1\n  - source: docker.io/Library/x:1\n'),
      'sync.yaml:5:13: images[1].source: invalid reference "docker.io/Library/x:1": repository name must be lowercase',
    ],
    [
      // Any location is a source (a layout too); one without a repository view names no destination.
      'an oci: source without a repository view or destination',
      base('  - source: oci:out:v1\n'),
      'sync.yaml:4:13: images[0].source: no destination for oci:out:v1: set destination (a layout without a repository view names none)',
    ],
    [
      'a bundle source that names no image',
      base('  - source: bundle:site.tar\n'),
      'sync.yaml:4:13: images[0].source: bundle:site.tar: name the image, bundle:FILE:IMAGE (e.g. bundle:site.tar:docker.io/library/postgres)',
    ],
    [
      'a bad platform deep in a list',
      base('  - source: nginx:1\n  - source: redis:7\n    platforms:\n      - linux/amd64\n      - linux\n'),
      'sync.yaml:8:9: images[1].platforms[1]: invalid platform "linux"',
    ],
    [
      'a bad semver range in a filter',
      base('  - source: nginx\n    tags:\n      semver: "sixteen"\n'),
      'sync.yaml:6:15: images[0].tags.semver: not a valid SemVer range',
    ],
    [
      'nowhere to put an image',
      base('  - source: quay.io/a/b:1\n', ''),
      'sync.yaml:3:13: images[0].source: no destination for quay.io/a/b',
    ],
    [
      'an unknown field',
      base('  - source: nginx:1\n    tag: x\n'),
      'sync.yaml:5:5: images[0].tag: unknown field',
    ],
    [
      'a bad target',
      'version: 1\ntarget: cache\nimages:\n  - source: nginx:1\n',
      'sync.yaml:2:9: target: invalid repository prefix "cache"',
    ],
    [
      'a bad mapping',
      base('  - source: nginx:1\n', 'mappings:\n  - from: docker.io/library/\n    to: reg.local/X/\n'),
      'sync.yaml:4:9: mappings[0].to: invalid repository prefix "reg.local/X/": invalid path component "X"',
    ],
    [
      'an unsupported version',
      'version: 2\ntarget: reg.local\nimages:\n  - source: nginx:1\n',
      'sync.yaml:1:10: version: unsupported spec version',
    ],
    ['no images', 'version: 1\ntarget: reg.local\nimages: []\n', 'sync.yaml:3:9: images: Too small'],
    [
      'a zero concurrency',
      base('  - source: nginx:1\n', 'target: r.io\nconcurrency: 0\n'),
      'sync.yaml:3:14: concurrency: Too small',
    ],
  ])('%s', (_name, text, message) => {
    let caught: unknown
    try {
      load(text)
    } catch (err) {
      caught = err
    }
    expect(isFerryError(caught, 'USAGE')).toBe(true)
    expect((caught as Error).message.startsWith(message), (caught as Error).message).toBe(true)
  })

  it('a mapping placing every image makes target optional', () => {
    const spec = load(
      'version: 1\nimages:\n  - source: nginx:1\nmappings:\n  - from: docker.io\n    to: reg.local:5000/hub\n',
    )
    expect(spec.target).toBeUndefined()
    expect(planDestination('nginx', spec)).toBe('reg.local:5000/hub/library/nginx')
    expect(imageSettings(spec, spec.images[0]!)).toEqual({ referrers: true })
  })
})
