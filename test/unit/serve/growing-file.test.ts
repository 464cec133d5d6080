import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GrowingFile } from '../../../src/serve/upstream/growing-file.js'

/** GET from a one-request server that sends `file`'s reader; what the client received, and how it ended. */
async function serveOnce(file: GrowingFile, size: number, verified: Promise<void>) {
  let server: Server | undefined
  const sent = new Promise<boolean>((resolveSent, rejectSent) => {
    server = createServer((_req, res) => {
      const send = async () => {
        const reader = await file.reader(size, verified)
        if (!reader) return false
        res.writeHead(200, { 'Content-Length': size })
        await pipeline(reader, res)
        return true
      }
      send().then(resolveSent, (err: unknown) => {
        res.destroy()
        rejectSent(err)
      })
    })
  })
  // Each test awaits `sent` itself; this only keeps an early rejection from counting as unhandled.
  sent.catch(() => {})
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  const { port } = server!.address() as AddressInfo
  const received: Buffer[] = []
  const progress: ((n: number) => void)[] = []
  let n = 0
  const outcome = new Promise<'complete' | 'cut'>((resolve) => {
    request(`http://127.0.0.1:${port}/`, (res) => {
      res.on('data', (c: Buffer) => {
        received.push(c)
        n += c.length
        for (const p of progress) p(n)
      })
      res.on('end', () => resolve('complete'))
      res.on('error', () => resolve('cut'))
    })
      .on('error', () => resolve('cut'))
      .end()
  })
  // Bytes that came before the call count too.
  const reached = (bytes: number) =>
    new Promise<void>((resolve) => {
      if (n >= bytes) resolve()
      else progress.push((got) => got >= bytes && resolve())
    })
  const close = () => new Promise<void>((resolve) => server!.close(() => resolve()))
  return { sent, outcome, reached, received: () => Buffer.concat(received), close }
}

describe('GrowingFile', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-growing-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('sends bytes as they are written, and the last one only once the download verified', async () => {
    const bytes = randomBytes(300_000)
    const { file, writer } = await GrowingFile.create(join(dir, 'ok.partial'))
    let verify: () => void = () => {}
    const verified = new Promise<void>((resolve) => {
      verify = resolve
    })
    const client = await serveOnce(file, bytes.length, verified)
    writer.write(bytes.subarray(0, 100_000))
    await client.reached(100_000)
    // Everything is on disk, but not yet verified: all but the last byte may go.
    await new Promise<void>((resolve) => writer.end(bytes.subarray(100_000), () => resolve()))
    await client.reached(bytes.length - 1)
    await new Promise((r) => setTimeout(r, 100))
    expect(client.received().length).toBe(bytes.length - 1)
    verify()
    expect(await client.outcome).toBe('complete')
    expect(client.received().equals(bytes)).toBe(true)
    expect(await client.sent).toBe(true)
    await client.close()
  })

  it('cuts the connection before the last byte when verification fails, with the whole file on disk', async () => {
    const bytes = randomBytes(200_000)
    const { file, writer } = await GrowingFile.create(join(dir, 'bad.partial'))
    let fail: (err: Error) => void = () => {}
    const verified = new Promise<void>((_resolve, reject) => {
      fail = reject
    })
    verified.catch(() => {})
    const client = await serveOnce(file, bytes.length, verified)
    await new Promise<void>((resolve) => writer.end(bytes, () => resolve()))
    await client.reached(bytes.length - 1)
    fail(new Error('digest mismatch'))
    expect(await client.outcome).toBe('cut')
    expect(client.received().length).toBe(bytes.length - 1)
    await expect(client.sent).rejects.toThrow(/digest mismatch/)
    await client.close()
  })

  it('cuts the connection when the download stops short', async () => {
    const { file, writer } = await GrowingFile.create(join(dir, 'short.partial'))
    writer.on('error', () => {})
    const client = await serveOnce(file, 100_000, new Promise<void>(() => {}))
    writer.write(randomBytes(40_000))
    await client.reached(40_000)
    writer.destroy(new Error('upstream went away'))
    expect(await client.outcome).toBe('cut')
    expect(client.received().length).toBe(40_000)
    await expect(client.sent).rejects.toThrow(/stopped at byte 40000/)
    await client.close()
  })
})
