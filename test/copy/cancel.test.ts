import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyImage } from '../../src/copy/copy.js'
import { FerryError } from '../../src/errors.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

describe('copy: cancellation', () => {
  let reg: Distribution
  let dir: string

  beforeAll(async () => {
    reg = await startDistribution()
    dir = await mkdtemp(join(tmpdir(), 'ferry-cancel-'))
  })
  afterAll(async () => {
    await reg?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('stops a transfer mid-upload when the signal fires, writes no tag, and says ABORTED', async () => {
    const source = await openLayoutTarget(join(dir, 'src'), { create: true })
    await pushSyntheticImage(source, { seed: 'cancel', layers: 1, layerSize: 16 * 1024 * 1024 }, 'v1')
    const client = new RegistryClient({ chunkSize: 1024 * 1024 })
    const destination = client.repository({ registry: reg.host, repository: 'cancel/app' })
    const controller = new AbortController()
    let bytes = 0
    const copy = copyImage(source, 'v1', destination, 'v1', {
      journal: false,
      signal: controller.signal,
      progress: (e) => {
        if (e.type !== 'advance') return
        bytes += e.done
        if (bytes >= 2 * 1024 * 1024 && !controller.signal.aborted) {
          controller.abort(new FerryError('ABORTED', 'interrupted'))
        }
      },
    })
    await expect(copy).rejects.toMatchObject({ code: 'ABORTED' })
    // It stopped where it was: far from the 16 MiB layer's end, and nothing is named.
    expect(bytes).toBeLessThan(8 * 1024 * 1024)
    await expect(destination.resolve('v1')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await client.close()
  })

  it('stops a write into a layout mid-blob and leaves no partial file behind', async () => {
    const source = await openLayoutTarget(join(dir, 'src2'), { create: true })
    await pushSyntheticImage(source, { seed: 'cancel-layout', layers: 1, layerSize: 32 * 1024 * 1024 }, 'v1')
    const destination = await openLayoutTarget(join(dir, 'dst'), { create: true })
    const controller = new AbortController()
    let bytes = 0
    const copy = copyImage(source, 'v1', destination, 'v1', {
      signal: controller.signal,
      progress: (e) => {
        if (e.type !== 'advance') return
        bytes += e.done
        if (bytes >= 1024 * 1024 && !controller.signal.aborted) {
          controller.abort(new FerryError('ABORTED', 'interrupted'))
        }
      },
    })
    await expect(copy).rejects.toMatchObject({ code: 'ABORTED' })
    expect(bytes).toBeLessThan(16 * 1024 * 1024)
    await expect(destination.resolve('v1')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    const left = (await readdir(join(dir, 'dst'), { recursive: true })).filter((f) => /tmp|partial/.test(f))
    expect(left).toEqual([])
  })
})
