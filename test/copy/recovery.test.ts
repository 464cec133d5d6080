import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import type { Descriptor } from '../../src/oci/schemas.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type Fault, type FaultProxy, faultOnNth, startFaultProxy } from '../helpers/fault-proxy.js'
import { captureLogger } from '../registry/log-capture.js'

// The streaming proxy in front of the destination does to an upload what a real link does on a bad day
// (a reset, a body cut after some bytes reached distribution, a 429/503 from a rate limiter in front
// of it); no real part produces those on demand on loopback. The one in front of the source watches.
const MiB = 1024 * 1024
const UPLOADS = /\/blobs\/uploads\//

describe('a copy recovers from upload faults within the run', () => {
  let source: Distribution
  let destination: Distribution
  let src: FaultProxy
  let dst: FaultProxy
  let image: Manifest
  let layer: Descriptor
  const log = captureLogger()
  const opts = {
    chunkSize: MiB,
    concurrency: 1,
    journal: false as const,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
  }

  beforeAll(async () => {
    ;[source, destination] = await Promise.all([startDistribution(), startDistribution()])
    ;[src, dst] = await Promise.all([startFaultProxy(source.url), startFaultProxy(destination.url)])
    const client = new RegistryClient()
    image = await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'big/app' }),
      { seed: 'recovery', layers: 1, layerSize: 3 * MiB + 4096 },
      '1.0',
    )
    await client.close()
    if (image.kind !== 'image') throw new Error('expected an image')
    layer = image.image.layers[0]!
  })
  afterEach(() => {
    dst.setRule(undefined)
    log.clear()
  })
  afterAll(async () => {
    await Promise.all([src?.stop(), dst?.stop()])
    await Promise.all([source?.stop(), destination?.stop()])
  })

  /** Copies through both proxies with `fault` on the matching request; returns what each side saw. */
  async function copyWith(repo: string, rule: Parameters<FaultProxy['setRule']>[0]) {
    const srcMark = src.seen.length
    const dstMark = dst.seen.length
    dst.setRule(rule)
    const started = Date.now()
    const client = new RegistryClient({ ...opts, logger: log })
    try {
      const result = await copyReference(
        testContext({ client }),
        `${src.host}/big/app:1.0`,
        `${dst.host}/${repo}:1.0`,
      )
      expect(result.destination.digest).toBe(image.digest)
    } finally {
      await client.close()
    }
    const check = new RegistryClient()
    const body = await check.repository({ registry: destination.host, repository: repo }).fetchBlob(layer)
    let read = 0
    for await (const chunk of body) read += (chunk as Buffer).length
    await check.close()
    expect(read).toBe(layer.size)
    const seen = dst.seen.slice(dstMark)
    const patches = seen.filter((r) => r.method === 'PATCH')
    return {
      ms: Date.now() - started,
      seen,
      count: (method: string) => seen.filter((r) => r.method === method && UPLOADS.test(r.path)).length,
      patchBytes: patches.reduce((n, r) => n + r.received, 0),
      ranges: patches.map((r) => r.headers['content-range']),
      layerReads: src.seen
        .slice(srcMark)
        .filter((r) => r.method === 'GET' && r.path.endsWith(layer.digest))
        .map((r) => r.headers.range ?? 'whole'),
    }
  }

  it('recovers when the first PATCH of a chunked upload is reset', async () => {
    const r = await copyWith('first-reset/app', faultOnNth('PATCH', UPLOADS, 1, { kind: 'reset' }))
    // The reset PATCH, then the four chunks of the blob. distribution's status for the session says
    // `0-0` (empty or 1 byte, it cannot tell), so a new session starts and the source is read again
    // from byte 0 (a whole, verified read). POSTs: two sessions for the layer, one for the config.
    expect(r.count('PATCH')).toBe(5)
    expect(r.patchBytes).toBe(layer.size) // the reset PATCH delivered nothing
    expect(r.ranges).toEqual([
      `0-${MiB - 1}`,
      `0-${MiB - 1}`,
      `${MiB}-${2 * MiB - 1}`,
      `${2 * MiB}-${3 * MiB - 1}`,
      `${3 * MiB}-${layer.size - 1}`,
    ])
    expect(r.layerReads).toEqual(['whole', 'whole'])
    expect(r.count('POST')).toBe(3)
  })

  it('starts a new session from byte 0 when a PATCH delivers part of its body to the registry and is cut', async () => {
    const cut: Fault = { kind: 'cut-request', after: 300 * 1024 }
    const r = await copyWith('part-cut/app', faultOnNth('PATCH', UPLOADS, 2, cut))
    // distribution kept part of the cut chunk but its session state no longer matches: the session is
    // lost, a new one starts and the source is read again from the start.
    expect(r.count('POST')).toBe(3) // two sessions for the layer, one for the config
    expect(r.ranges[0]).toBe(`0-${MiB - 1}`)
    expect(r.ranges[1]).toBe(`${MiB}-${2 * MiB - 1}`)
    expect(r.ranges[2]).toBe(`0-${MiB - 1}`)
    expect(r.count('PATCH')).toBe(6)
    expect(r.layerReads).toEqual(['whole', 'whole'])
    const cutPatch = r.seen.filter((q) => q.method === 'PATCH')[1]!
    expect(cutPatch.received).toBeGreaterThanOrEqual(300 * 1024)
    expect(cutPatch.received).toBeLessThan(MiB)
    expect(r.patchBytes).toBe(layer.size + MiB + cutPatch.received)
    expect(r.seen.filter((q) => q.method === 'GET' && UPLOADS.test(q.path))).toHaveLength(1)
  })

  it.each([
    [503, '1'],
    [429, '1'],
  ])('retries a PATCH answered %i in place, after its Retry-After', async (status, after) => {
    const busy: Fault = { kind: 'status', status, headers: { 'retry-after': after } }
    const r = await copyWith(`busy-${status}/app`, faultOnNth('PATCH', UPLOADS, 3, busy))
    expect(r.count('PATCH')).toBe(5)
    expect(r.count('POST')).toBe(2) // one session for the layer, one for the config
    expect(r.patchBytes).toBe(layer.size + MiB)
    expect(r.ranges[2]).toBe(`${2 * MiB}-${3 * MiB - 1}`)
    expect(r.ranges[3]).toBe(`${2 * MiB}-${3 * MiB - 1}`)
    // The refused chunk is read again from the source at its start, a ranged read.
    expect(r.layerReads).toEqual(['whole', `bytes=${2 * MiB}-`])
    expect(r.ms).toBeGreaterThanOrEqual(950)
    expect(log.lines.some((l) => l.includes(`HTTP ${status}`) && l.includes('Retry-After'))).toBe(true)
  })
})
