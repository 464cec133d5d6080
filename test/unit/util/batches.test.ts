import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { createServer, get } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { batchedResponse } from '../../../src/serve/http.js'
import { BATCH_BYTES, Batches, batchedFileWritable, batchedWritable } from '../../../src/util/batches.js'

const KIB64 = 64 * 1024
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-batches-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

describe('Batches', () => {
  it('hands 4 MiB of 64 KiB chunks on as four 1 MiB batches, in order', async () => {
    const batches: Buffer[][] = []
    const b = new Batches(async (chunks) => {
      batches.push(chunks)
    })
    const chunks = Array.from({ length: (4 * BATCH_BYTES) / KIB64 }, () => randomBytes(KIB64))
    for (const c of chunks) await b.add(c)
    await b.flush()
    expect(batches.map((x) => Buffer.concat(x).byteLength)).toEqual([
      BATCH_BYTES,
      BATCH_BYTES,
      BATCH_BYTES,
      BATCH_BYTES,
    ])
    expect(sha(Buffer.concat(batches.flat()))).toBe(sha(Buffer.concat(chunks)))
  })

  it('sends a batch that does not fill after a short delay, without a flush', async () => {
    const sent: number[] = []
    const b = new Batches(async (chunks) => {
      sent.push(Buffer.concat(chunks).byteLength)
    })
    await b.add(Buffer.alloc(1000))
    expect(sent).toEqual([])
    await sleep(100)
    expect(sent).toEqual([1000])
  })

  it('fails every later add and flush once a batch failed', async () => {
    const b = new Batches(async () => {
      throw new Error('ENOSPC: no space left on device')
    })
    await expect(b.add(Buffer.alloc(BATCH_BYTES))).rejects.toThrow('ENOSPC')
    await expect(b.add(Buffer.alloc(10))).rejects.toThrow('ENOSPC')
    await expect(b.flush()).rejects.toThrow('ENOSPC')
  })
})

describe('batchedWritable', () => {
  it('closes once, finished, after the last batch', async () => {
    const events: string[] = []
    const w = batchedWritable(
      async (chunks) => {
        events.push(`batch ${Buffer.concat(chunks).byteLength}`)
      },
      async (finished) => {
        events.push(`close ${finished}`)
      },
    )
    await pipeline(Readable.from([Buffer.alloc(BATCH_BYTES), Buffer.alloc(5)]), w)
    await sleep(10)
    expect(events).toEqual([`batch ${BATCH_BYTES}`, 'batch 5', 'close true'])
  })

  it('closes unfinished, with the error and without writing what waits, when the source fails', async () => {
    const events: string[] = []
    const w = batchedWritable(
      async (chunks) => {
        events.push(`batch ${Buffer.concat(chunks).byteLength}`)
      },
      async (finished, err) => {
        events.push(`close ${finished} ${err?.message}`)
      },
    )
    async function* failing() {
      yield Buffer.alloc(100)
      throw new Error('upstream reset')
    }
    await expect(pipeline(Readable.from(failing()), w)).rejects.toThrow('upstream reset')
    expect(events).toEqual(['close false upstream reset'])
  })

  it('writes a file at the given position', async () => {
    const path = join(dir, 'positioned')
    const h = await open(path, 'w')
    await h.write(Buffer.from('head:'))
    const body = randomBytes(3 * BATCH_BYTES + 17)
    const seen: number[] = []
    await pipeline(
      Readable.from([body.subarray(0, 100), body.subarray(100)]),
      batchedFileWritable(h, { position: 5, flushed: (n) => seen.push(n) }),
    )
    const file = await readFile(path)
    expect(file.subarray(0, 5).toString()).toBe('head:')
    expect(sha(file.subarray(5))).toBe(sha(body))
    expect(seen.at(-1)).toBe(body.byteLength)
  })
})

describe('batchedResponse', () => {
  /** A server whose one answer is `source` piped into batchedResponse; what a client got, and how it ended. */
  async function fetchFrom(source: () => Readable, size: number) {
    let served: Promise<void> = Promise.resolve()
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Length': size })
      served = pipeline(source(), batchedResponse(res))
      served.catch(() => {})
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const { port } = server.address() as AddressInfo
    try {
      return await new Promise<{ body: Buffer; ended: 'complete' | 'cut'; served: Promise<void> }>(
        (resolve) => {
          get(`http://127.0.0.1:${port}/`, (res) => {
            const parts: Buffer[] = []
            res.on('data', (c: Buffer) => parts.push(c))
            res.on('end', () => resolve({ body: Buffer.concat(parts), ended: 'complete', served }))
            res.on('error', () => resolve({ body: Buffer.concat(parts), ended: 'cut', served }))
          }).on('error', () => resolve({ body: Buffer.alloc(0), ended: 'cut', served }))
        },
      )
    } finally {
      server.close()
    }
  }

  it('sends the whole body, byte for byte', async () => {
    const body = randomBytes(5 * BATCH_BYTES + 3)
    const chunks = Array.from({ length: Math.ceil(body.byteLength / KIB64) }, (_, i) =>
      body.subarray(i * KIB64, (i + 1) * KIB64),
    )
    const got = await fetchFrom(() => Readable.from(chunks), body.byteLength)
    expect(got.ended).toBe('complete')
    expect(sha(got.body)).toBe(sha(body))
  })

  it('cuts the connection when the source fails, even after the declared length was nearly sent', async () => {
    const size = 2 * BATCH_BYTES
    async function* failing() {
      yield Buffer.alloc(size - 1)
      throw new Error('digest mismatch')
    }
    const got = await fetchFrom(() => Readable.from(failing()), size)
    expect(got.ended).toBe('cut')
    expect(got.body.byteLength).toBeLessThan(size)
    await expect(got.served).rejects.toThrow('digest mismatch')
  })
})
