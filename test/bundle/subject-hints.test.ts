import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { isFerryError } from '../../src/errors.js'
import { RegistryClient } from '../../src/registry/index.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { catalog, type Entry, pushSourceImages, readEntries, tempDir, writeEntries } from './helpers.js'

// Issue 17: the io.ferry.subject hints of index.json must not be able to hide referrers while the bundle
// still passes. The signed metadata records every index.json entry with its annotations, so any change to
// a hint is refused before anything is imported.
describe('subject hints in index.json', () => {
  let reg: Distribution
  let target: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let entries: Entry[]

  beforeAll(async () => {
    ;[reg, target] = await Promise.all([startDistribution(), startDistribution()])
    client = new RegistryClient()
    tmp = await tempDir('hints')
    const images = await pushSourceImages(client, reg.host, 'hints')
    const good = join(tmp.dir, 'good.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([images.app], { name: 'hints', version: '1' }),
      { output: good },
    )
    entries = await readEntries(good)
  })
  afterAll(async () => {
    await client?.close()
    await Promise.all([reg?.stop(), target?.stop()])
    await tmp?.cleanup()
  })

  for (const [label, edit] of [
    ['removed', (a: Record<string, string>) => delete a['io.ferry.subject']],
    ['changed', (a: Record<string, string>) => (a['io.ferry.subject'] = `sha256:${'0'.repeat(64)}`)],
  ] as const) {
    it(`refuses a bundle whose subject hints were ${label}, and imports nothing`, async () => {
      let hinted = 0
      const edited = entries.map((e) => {
        if (e.header.name !== 'index.json') return e
        const index = JSON.parse(e.body!.toString('utf8')) as {
          manifests: { annotations?: Record<string, string> }[]
        }
        for (const m of index.manifests) {
          if (m.annotations?.['io.ferry.subject']) {
            edit(m.annotations)
            hinted++
          }
        }
        const body = Buffer.from(JSON.stringify(index))
        return { header: { ...e.header, size: body.byteLength }, body }
      })
      expect(hinted).toBe(1)
      const path = join(tmp.dir, `${label}.tar`)
      await writeEntries(path, edited)
      const err = await importBundle(testContext({ client }), path, { to: `${target.host}/site` }).catch(
        (e: unknown) => e,
      )
      expect(isFerryError(err, 'VERIFY_FAILED'), String(err)).toBe(true)
      expect((err as Error).message).toMatch(
        /index\.json entry .* is not among the entries ferry-bundle\.json records/,
      )
      expect(await catalog(target.url)).toEqual([])
    })
  }
})
