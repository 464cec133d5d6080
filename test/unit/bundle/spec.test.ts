import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  destinationPath,
  formatDestination,
  loadMappingFile,
  parseDestination,
} from '../../../src/bundle/mapping.js'
import { parseSize } from '../../../src/bundle/output.js'
import { loadBundleSpec } from '../../../src/bundle/spec.js'
import { tempDir } from '../../bundle/helpers.js'

const repoRoot = resolve(import.meta.dirname, '../../..')

describe('bundle spec', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  beforeAll(async () => {
    tmp = await tempDir('spec')
  })
  afterAll(async () => {
    await tmp?.cleanup()
  })

  async function specError(text: string): Promise<string> {
    const path = join(tmp.dir, 'spec.yaml')
    await writeFile(path, text)
    const err = await loadBundleSpec(path).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    return (err as Error).message.replace(`${path}:`, '')
  }

  it('reads the shipped example', async () => {
    const spec = await loadBundleSpec(join(repoRoot, 'bundles/mini-api.yaml'))
    expect(spec.name).toBe('mini-api')
    expect(spec.version).toBe('1.0')
    expect(
      spec.images.map((i) => [i.original, i.reference.registry, i.reference.repository, i.reference.tag]),
    ).toEqual([
      ['docker.io/library/postgres:16', 'docker.io', 'library/postgres', '16'],
      ['docker.io/library/python:3.12-slim', 'docker.io', 'library/python', '3.12-slim'],
      ['ghcr.io/example/mini-api:1.0', 'ghcr.io', 'example/mini-api', '1.0'],
    ])
    expect(spec.images.map((i) => i.platforms?.length)).toEqual([2, 1, 2])
    expect(spec.images.every((i) => i.referrers)).toBe(true)
    expect(spec.images[2]!.destination).toBe('apps/mini-api')
  })

  it('points at the place of each mistake', async () => {
    expect(await specError('name: x\nversion: "1"\nimages:\n  - ref: postgres:16\n    tag: "16"\n')).toBe(
      '5:5: images[0].tag: unknown field',
    )
    expect(await specError('name: x\nversion: "1"\nimages:\n  - ref: docker.io/library/postgres\n')).toMatch(
      /^4:10: images\[0\]\.ref: docker\.io\/library\/postgres is a repository: add a tags filter/,
    )
    expect(await specError('name: X\nversion: "1"\nimages:\n  - ref: a:1\n')).toMatch(
      /^1:7: name: lower-case letters/,
    )
    expect(
      await specError('name: x\nversion: "1"\nimages:\n  - ref: a:1\n    destination: Apps/x\n'),
    ).toMatch(/^5:18: images\[0\]\.destination: repository name must be lowercase/)
    expect(await specError('name: x\nversion: "1"\nimages: []\n')).toMatch(/^3:9: images: /)
  })
})

describe('import name mapping', () => {
  const reg = parseDestination('reg.local:5000/cache')
  const where = (source: string, opts: Parameters<typeof destinationPath>[3] = {}, hint?: string) =>
    formatDestination(reg, destinationPath(reg, source, hint, opts))

  it('follows the documented rules, first one that applies', () => {
    expect(where('docker.io/library/postgres')).toBe('reg.local:5000/cache/library/postgres')
    expect(where('ghcr.io/example/mini-api')).toBe('reg.local:5000/cache/example/mini-api')
    expect(where('docker.io/library/postgres', { stripComponents: 1 })).toBe('reg.local:5000/cache/postgres')
    expect(where('ghcr.io/example/mini-api', {}, 'apps/mini-api')).toBe('reg.local:5000/cache/apps/mini-api')
    const mapping = { 'ghcr.io/example/mini-api': 'svc/api' }
    expect(where('ghcr.io/example/mini-api', { mapping }, 'apps/mini-api')).toBe(
      'reg.local:5000/cache/svc/api',
    )
    const host = parseDestination('reg.local:5000')
    expect(formatDestination(host, destinationPath(host, 'docker.io/library/redis', undefined, {}))).toBe(
      'reg.local:5000/library/redis',
    )
    const layout = parseDestination('oci:./site')
    expect(
      formatDestination(
        layout,
        destinationPath(layout, 'docker.io/library/redis', undefined, { stripComponents: 1 }),
      ),
    ).toBe('oci:./site:redis')
  })

  it('refuses what cannot be placed', () => {
    expect(() => where('docker.io/library/postgres', { stripComponents: 2 })).toThrow(
      /--strip-components 2 leaves nothing/,
    )
    expect(() => parseDestination('oci:./site:tag')).toThrow(/name the layout directory only/)
    expect(() => parseDestination('cache')).toThrow(/must start with a registry host/)
  })

  it('reads a mapping file with normalised keys and checked values', async () => {
    const tmp = await tempDir('mapping')
    try {
      const path = join(tmp.dir, 'mapping.yaml')
      await writeFile(path, 'postgres: db/postgres\nghcr.io/example/mini-api: apps/api\n')
      expect(await loadMappingFile(path)).toEqual({
        'docker.io/library/postgres': 'db/postgres',
        'ghcr.io/example/mini-api': 'apps/api',
      })
      await writeFile(path, 'postgres: DB//x\n')
      await expect(loadMappingFile(path)).rejects.toThrow(/postgres: "DB\/\/x"/)
    } finally {
      await tmp.cleanup()
    }
  })
})

describe('sizes', () => {
  it('reads binary multiples and refuses nonsense', () => {
    expect(parseSize('4G')).toBe(4 * 2 ** 30)
    expect(parseSize('700M')).toBe(700 * 2 ** 20)
    expect(parseSize('1.5GiB')).toBe(1.5 * 2 ** 30)
    expect(parseSize('65536')).toBe(65536)
    expect(() => parseSize('12')).toThrow(/at least 1K/)
    expect(() => parseSize('4 gigs')).toThrow(/invalid size/)
  })
})
