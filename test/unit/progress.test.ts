import { describe, expect, it } from 'vitest'
import type { BundleOutput } from '../../src/bundle/output.js'
import { type TarBlob, writeBundleTar } from '../../src/bundle/tar-write.js'
import { MemoryTarget } from '../../src/content/memory.js'
import { copyImage } from '../../src/copy/copy.js'
import type { ProgressEvent } from '../../src/progress.js'
import { pushSyntheticImage } from '../../src/synthetic.js'

/**
 * One progress type for every operation: what a renderer adds up from `start`, `advance` and `item`
 * reaches the total it was given, whichever operation reported it.
 */
function accounted(events: ProgressEvent[]) {
  const start = events.filter((e) => e.type === 'start')
  const moved = events.reduce((n, e) => n + (e.type === 'advance' ? e.done : 0), 0)
  const without = events.reduce(
    (n, e) => n + (e.type === 'item' && e.kind === 'blob' && e.outcome !== 'copied' ? e.size : 0),
    0,
  )
  return {
    starts: start.length,
    total: start[0]?.type === 'start' ? start[0].total : -1,
    done: moved + without,
  }
}

describe('progress events', () => {
  it('a copy reports its blobs as bytes moved, then as skipped on a second run, adding up to its total', async () => {
    const source = new MemoryTarget('memory:src')
    const image = await pushSyntheticImage(source, { seed: 'progress', layers: 3, layerSize: 40_000 }, '1')
    const destination = new MemoryTarget('memory:dst')
    for (const run of ['first', 'second']) {
      const events: ProgressEvent[] = []
      await copyImage(source, '1', destination, '1', { journal: false, progress: (e) => events.push(e) })
      expect(accounted(events)).toMatchObject({ starts: 1, done: accounted(events).total })
      expect(new Set(events.map((e) => `${e.phase} ${e.subject}`))).toEqual(new Set(['copy memory:dst:1']))
      const blobs = events.filter((e) => e.type === 'item' && e.kind === 'blob')
      expect(blobs).toHaveLength(image.kind === 'image' ? image.image.layers.length + 1 : -1)
      expect(
        blobs.every((e) => e.type === 'item' && e.outcome === (run === 'first' ? 'copied' : 'skipped')),
      ).toBe(true)
      const root = events.find((e) => e.type === 'item' && e.kind === 'manifest' && e.digest === image.digest)
      expect(root).toMatchObject({ outcome: run === 'first' ? 'pushed' : 'skipped', tag: '1' })
    }
  })

  it('a bundle written reports each blob’s bytes and its end, through the same type', async () => {
    const source = new MemoryTarget('memory:src')
    const image = await pushSyntheticImage(source, { seed: 'tar', layers: 2, layerSize: 70_000 }, '1')
    if (image.kind !== 'image') throw new Error('expected an image')
    const blobs: TarBlob[] = [image.image.config, ...image.image.layers].map((desc) => ({ desc, source }))
    const chunks: Buffer[] = []
    const out = { write: async (chunk: Buffer) => void chunks.push(chunk) } as unknown as BundleOutput
    const events: ProgressEvent[] = []
    await writeBundleTar([], blobs, out, {
      mtime: new Date(0),
      progress: (e) => events.push(e),
      subject: 'b.tar',
    })
    for (const { desc } of blobs) {
      const bytes = events.reduce(
        (n, e) => n + (e.type === 'advance' && e.item === desc.digest ? e.done : 0),
        0,
      )
      expect(bytes).toBe(desc.size)
      expect(events.filter((e) => e.type === 'item' && e.digest === desc.digest)).toEqual([
        {
          type: 'item',
          phase: 'bundle-write',
          subject: 'b.tar',
          kind: 'blob',
          digest: desc.digest,
          size: desc.size,
          outcome: 'copied',
        },
      ])
    }
    expect(chunks.length).toBeGreaterThan(0)
  })
})
