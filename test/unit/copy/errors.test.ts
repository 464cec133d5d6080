import { pipeline, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import type { Target } from '../../../src/content/target.js'
import { copyImage } from '../../../src/copy/copy.js'
import { CopyError } from '../../../src/copy/copy-error.js'
import { FerryError } from '../../../src/errors.js'
import { verifyingStream } from '../../../src/oci/digest.js'
import type { Descriptor } from '../../../src/oci/schemas.js'
import { pushSyntheticImage } from '../../../src/synthetic.js'

/**
 * Which side a copy failure belongs to is decided where copy calls each side. In-process fakes stand in
 * for a store whose bytes rot and one that refuses a tag: no real store does either on cue.
 */

/** `inner`, with one method replaced. */
function withMethod<T extends object>(inner: T, name: string, fn: (...args: never[]) => unknown): T {
  return new Proxy(inner, {
    get(t, prop) {
      if (prop === name) return fn
      const value = Reflect.get(t, prop, t)
      return typeof value === 'function' ? value.bind(t) : value
    },
  })
}

async function sourceImage() {
  const source = new MemoryTarget('memory:src')
  const image = await pushSyntheticImage(source, { seed: 'sides', layers: 1, layerSize: 50_000 }, '1')
  return { source, image }
}

describe('copy errors: the side and the call', () => {
  it('a source blob that fails as it streams is the source’s, though it surfaces in the destination’s upload', async () => {
    const { source } = await sourceImage()
    // Every blob's bytes rot: the verifying read fails mid-stream, inside the destination's pushBlob.
    const rotten = withMethod(source, 'fetchBlob', async (desc: Descriptor) =>
      pipeline(
        Readable.from([Buffer.alloc(desc.size, 7)]),
        verifyingStream({ ...desc, subject: `memory:src@${desc.digest}` }),
        () => {},
      ),
    )
    const err = await copyImage(rotten, '1', new MemoryTarget('memory:dst'), '1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CopyError)
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH', side: 'source', operation: 'fetchBlob' })
    expect((err as Error).message).toMatch(
      /^copy memory:src:1 to memory:dst:1: the source memory:src@sha256:/,
    )
  })

  it('a destination that refuses the tag is the destination’s, with the registry’s words kept', async () => {
    const { source } = await sourceImage()
    const refusing = withMethod(new MemoryTarget('memory:dst') as Target, 'tag', async () => {
      throw new FerryError('DENIED', 'memory:dst:1: DENIED: tag 1 is immutable (HTTP 403)')
    })
    const err = await copyImage(source, '1', refusing, '1').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'DENIED', side: 'destination', operation: 'tag' })
    expect((err as Error).message).toBe(
      'copy memory:src:1 to memory:dst:1: the destination memory:dst:1: DENIED: tag 1 is immutable (HTTP 403)',
    )
    expect((err as CopyError).toJSON()).toMatchObject({
      side: 'destination',
      operation: 'tag',
      code: 'DENIED',
    })
  })

  it('a source tag that does not exist is the source’s; a failure of copy’s own is no side’s', async () => {
    const { source, image } = await sourceImage()
    await expect(copyImage(source, 'nope', new MemoryTarget('memory:dst'), '1')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      side: 'source',
    })
    const own = await copyImage(source, '1', new MemoryTarget('memory:dst'), '1', {
      expectDigest: `sha256:${'0'.repeat(64)}`,
    }).catch((e: unknown) => e)
    expect(own).toMatchObject({ code: 'CONFLICT' })
    expect(own).not.toBeInstanceOf(CopyError)
    expect(image.digest).toMatch(/^sha256:/)
  })
})
