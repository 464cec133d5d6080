import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { collectGarbage } from '../../../src/gc/index.js'
import { type LayoutTarget, OciLayout } from '../../../src/layout/index.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { backdate, backdateBlobs, filesOf } from '../../gc/fixtures.js'
import {
  blobOf,
  manifestOf,
  pushImage,
  randomBlob,
  streamOf,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tempDir } from '../../supply/helpers.js'

const file = (root: string, digest: string) => join(root, 'blobs', ...digest.split(':'))

describe('collectGarbage', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let layout: OciLayout
  let app: LayoutTarget

  beforeEach(async () => {
    tmp = await tempDir('ferry-collect-')
    layout = await OciLayout.open(join(tmp.dir, 'root'), { create: true })
    app = layout.target('app')
  })
  afterEach(async () => {
    await tmp.remove()
  })

  it('keeps an old unreachable blob a writer found present and relied on after the mark', async () => {
    const image = syntheticImage({ layerSizes: [500] })
    await pushImage(app, image, '1')
    const reused = randomBlob(300)
    await app.pushBlob(reused.desc, streamOf(reused.bytes))
    const doomed = randomBlob(300)
    await app.pushBlob(doomed.desc, streamOf(doomed.bytes))
    await backdateBlobs(layout.dir, 3)
    const result = await collectGarbage(layout, {
      // Between the unlocked mark and the sweep, a push finds the blob there and skips its upload.
      exclusive: async (fn) => {
        await app.pushBlob(reused.desc, streamOf(reused.bytes))
        return layout.whileIndexLocked(fn)
      },
    })
    expect(result.freed.map((i) => i.digest)).toEqual([doomed.desc.digest])
    expect(result.young).toBe(1)
    expect(existsSync(file(layout.dir, reused.desc.digest))).toBe(true)
    for (const d of filesOf(image)) expect(existsSync(file(layout.dir, d))).toBe(true)
  })

  it('a missing index child reaches nothing and is reported; an unreadable manifest stops it first', async () => {
    const image = syntheticImage({ layerSizes: [200] })
    const absent = syntheticImage({ layerSizes: [200] })
    await pushImage(app, image)
    const index = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [image, absent].map((i) => ({
        mediaType: i.manifest.mediaType,
        digest: i.manifest.digest,
        size: i.manifest.bytes.byteLength,
      })),
    })
    await app.tag(index, 'multi')
    await backdateBlobs(layout.dir, 3)
    const result = await collectGarbage(layout)
    expect(result.missing).toEqual([absent.manifest.digest])
    expect(result.freed).toEqual([])

    // An entry whose bytes are no manifest: nothing can say what it needs, so nothing is deleted.
    const garbage = randomBlob(100)
    await app.pushBlob(garbage.desc, streamOf(garbage.bytes))
    await backdate(file(layout.dir, garbage.desc.digest), 3)
    const bogus = blobOf('{"not":"a manifest"}')
    await app.pushBlob(bogus.desc, streamOf(bogus.bytes))
    await layout.updateIndex((i) => ({
      ...i,
      manifests: [...i.manifests, { ...bogus.desc, mediaType: MediaType.ociManifest }],
    }))
    await expect(collectGarbage(layout)).rejects.toThrow(bogus.desc.digest)
    expect(existsSync(file(layout.dir, garbage.desc.digest))).toBe(true)
  })

  it('finishes the sweep of a collection that was killed: deletes what it took out, unless freshened', async () => {
    const gone = randomBlob(100)
    const back = randomBlob(100)
    const ingest = join(layout.dir, 'ingest')
    await mkdir(ingest, { recursive: true })
    // pid 2^22 + 1 is above Linux's largest pid_max: no process has it.
    const aside = (b: typeof gone) =>
      join(ingest, `sha256-${b.desc.digest.slice(7)}.4194305.00aa11bb22cc.sweep`)
    await writeFile(aside(gone), gone.bytes)
    await writeFile(aside(back), back.bytes)
    await backdate(aside(gone), 3)
    await collectGarbage(layout)
    expect(existsSync(aside(gone))).toBe(false)
    expect(existsSync(file(layout.dir, gone.desc.digest))).toBe(false)
    expect(existsSync(aside(back))).toBe(false)
    expect(existsSync(file(layout.dir, back.desc.digest))).toBe(true)
  })
})
