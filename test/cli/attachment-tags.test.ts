import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BundleReader } from '../../src/bundle/reader.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry, startFerryServe } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/**
 * Which tags are attachments is answered by the reference grammar alone (src/reference/grammar.ts):
 * `sha256-HEX` (the referrers tag schema) and `sha256-HEX.sig|.att|.sbom` (cosign), with exactly the
 * algorithm's number of hex digits. Before, `bundle create` hid any 64 to 128 hex digits and the `serve`
 * banner hid only cosign's sha256 tags.
 */
describe(
  'attachment tags: bundle create and the serve banner agree (built CLI)',
  { timeout: 120_000 },
  () => {
    let reg: Distribution
    let dir: string
    const indexTag = `sha256-${'a'.repeat(64)}`
    const cosignTag = `sha256-${'b'.repeat(64)}.sig`
    // Looks like one, but 100 hex digits name no sha256 digest: a version tag like any other.
    const lookalike = `sha256-${'c'.repeat(100)}`

    beforeAll(async () => {
      reg = await startDistribution()
      dir = await mkdtemp(join(tmpdir(), 'ferry-attachment-tags-'))
      const client = new RegistryClient()
      const repo = client.repository({ registry: reg.host, repository: 'tools/cli' })
      const image = await pushSyntheticImage(repo, { seed: 'tags', layers: 1, layerSize: 2000 }, '2')
      for (const tag of [indexTag, cosignTag, lookalike]) await repo.tag(image, tag)
      await client.close()
    })
    afterAll(async () => {
      await reg?.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('a tag filter selects the look-alike, never the attachment tags; serve lists version tags only', async () => {
      const spec = join(dir, 'spec.yaml')
      await writeFile(
        spec,
        [
          'name: tags',
          'version: "1"',
          'images:',
          `  - ref: ${reg.host}/tools/cli`,
          '    tags: { match: "*" }',
          // Named outright, an attachment-looking tag is carried as any tag is.
          `  - ref: ${reg.host}/tools/cli:${indexTag}`,
          `  - ref: ${reg.host}/tools/cli:${cosignTag}`,
          '',
        ].join('\n'),
      )
      const bundle = join(dir, 'tags.tar')
      const created = await ferry(['bundle', 'create', spec, '--output', bundle], {
        env: { SOURCE_DATE_EPOCH: '1700000000' },
      })
      expect(created.code, created.stderr).toBe(0)
      const reader = await BundleReader.open(bundle)
      try {
        expect(await reader.target(`${reg.host}/tools/cli`).listTags()).toEqual(
          ['2', indexTag, cosignTag, lookalike].sort(),
        )
      } finally {
        await reader.close()
      }

      const served = await startFerryServe(['--bundle', bundle])
      try {
        for (let i = 0; i < 50 && !served.output().includes('/tools/cli'); i++) await sleep(100)
        const line = served
          .output()
          .split('\n')
          .find((l) => l.includes('/tools/cli'))
        expect(line).toMatch(new RegExp(`tags: (2, ${lookalike}|${lookalike}, 2)$`))
      } finally {
        await served.stop()
      }
    })
  },
)
