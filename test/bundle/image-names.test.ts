import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { isFerryError } from '../../src/errors.js'
import type { Logger } from '../../src/log.js'
import { RegistryClient } from '../../src/registry/index.js'
import { startServer } from '../../src/serve/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { catalog, type Entry, ferry, file, readEntries, tempDir, writeEntries } from './helpers.js'

/**
 * Image names no registry can hold (sweep 2026-12, L11): `bundle verify` must refuse what `bundle import`
 * refuses, by the same check, and `serve --bundle` leaves such a repository out. The bundles are crafted:
 * ferry never writes such names, so the metadata and index.json of a good unsigned bundle are rewritten
 * consistently (the blobs, which hold no names, stay as they are).
 */
describe('bundle image names that import refuses', () => {
  let reg: Distribution
  let target: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let entries: Entry[]
  let repository: string

  beforeAll(async () => {
    ;[reg, target] = await Promise.all([startDistribution(), startDistribution()])
    client = new RegistryClient()
    tmp = await tempDir('image-names')
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'acme/web' }),
      { seed: 'image-names', layers: 1, layerSize: 5_000 },
      'v1',
    )
    repository = `${reg.host}/acme/web`
    const good = join(tmp.dir, 'good.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([`${repository}:v1`], { name: 'names', version: '1' }),
      { output: good },
    )
    entries = await readEntries(good)
  })
  afterAll(async () => {
    await client?.close()
    await Promise.all([reg?.stop(), target?.stop()])
    await tmp?.cleanup()
  })

  /** Every string naming the image, in ferry-bundle.json and index.json, renamed to NAME:TAG. */
  async function renamed(label: string, name: string, tag = 'v1'): Promise<string> {
    const rename = (value: unknown): unknown => {
      if (typeof value === 'string')
        return value.replace(`${repository}:v1`, `${name}:${tag}`).replace(repository, name)
      if (Array.isArray(value)) return value.map(rename)
      if (value && typeof value === 'object') {
        const out: Record<string, unknown> = {}
        for (const [k, v] of Object.entries(value)) out[k] = k === 'tag' && v === 'v1' ? tag : rename(v)
        return out
      }
      return value
    }
    const path = join(tmp.dir, `${label}.tar`)
    await writeEntries(
      path,
      entries.map((e) =>
        e.header.name === 'index.json' || e.header.name === 'ferry-bundle.json'
          ? file(e.header.name, JSON.stringify(rename(JSON.parse(e.body!.toString()))))
          : e,
      ),
    )
    return path
  }

  // A bad tag is refused already: index.json's ref.name no longer matches the metadata (consistency.ts).
  const cases: [string, string, string | undefined, RegExp][] = [
    ['dotdot', 'reg.x/../../etc/passwd', undefined, /invalid path component "\.\."/],
    ['upper', 'reg.x/ACME/Web', undefined, /repository name must be lowercase/],
    ['space', 'reg.x/a b', undefined, /invalid path component "a b"/],
  ]

  for (const [label, name, tag, problem] of cases) {
    it(`${label}: verify and import refuse it with the same message, serve leaves it out`, async () => {
      const path = await renamed(label, name, tag)
      const verified = await verifyBundleFile(path).catch((e: unknown) => e)
      expect(isFerryError(verified, 'VERIFY_FAILED'), String(verified)).toBe(true)
      expect((verified as Error).message).toMatch(problem)
      const imported = await importBundle(testContext({ client }), path, {
        to: `${target.host}/site`,
      }).catch((e: unknown) => e)
      expect(isFerryError(imported, 'VERIFY_FAILED'), String(imported)).toBe(true)
      expect((imported as Error).message).toBe((verified as Error).message)
      expect(await catalog(target.url)).toEqual([])

      const warnings: string[] = []
      const logger: Logger = { debug() {}, warn: (m) => warnings.push(m) }
      const server = await startServer({ bundle: path, port: 0, logger })
      try {
        const listed = await (await fetch(`${server.url}/v2/_catalog`)).json()
        expect(listed).toEqual({ repositories: [] })
        expect(warnings.join('\n')).toMatch(problem)
      } finally {
        await server.close()
      }
    })
  }

  it('bundle verify exits 5 with one line naming the image', async () => {
    const run = await ferry('bundle/verify', join(tmp.dir, 'dotdot.tar'))
    expect(run.code, run.stderr).toBe(5)
    expect(run.stderr.split('\n')).toEqual([
      // (`passwd:v1` reads as a secret to the redactor: the tag is not asserted.)
      expect.stringMatching(
        /^ferry: .*dotdot\.tar: image "reg\.x\/\.\.\/\.\.\/etc\/passwd:.*": invalid path/,
      ),
      '',
    ])
  })
})
