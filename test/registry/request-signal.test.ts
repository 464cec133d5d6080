import { getEventListeners } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/**
 * What a caller's signal (sync's Ctrl-C, one for the whole run) holds for the requests made under it.
 * Node 20's `AbortSignal.any([signal])` keeps a WeakRef per call in a set on `signal` that is never
 * emptied, so one per request piled up for the whole run (issue 30, goal 5: ~7 per image). The set is
 * Node's own (a symbol named kDependantSignals); the first test checks it is found where it is looked for,
 * so the second cannot pass for want of finding it.
 */
const dependants = (signal: AbortSignal): Set<unknown> | undefined => {
  const key = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals')
  return key === undefined ? undefined : (signal as unknown as Record<symbol, Set<unknown>>)[key]
}

describe('registry requests under one caller signal', () => {
  let reg: Distribution
  let client: RegistryClient

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient()
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'acme/app' }),
      { seed: 'signal', layers: 1, layerSize: 1024 },
      '1',
    )
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
  })

  it('finds where Node keeps a signal’s dependants', () => {
    const probe = new AbortController().signal
    AbortSignal.any([probe])
    expect(dependants(probe)?.size).toBe(1)
  })

  it('keeps nothing per request in the caller’s signal once the answers are read', async () => {
    const caller = new AbortController()
    const repo = client.repository({ registry: reg.host, repository: 'acme/app' })
    for (let i = 0; i < 30; i++) {
      const manifest = await repo.fetchManifest('1', { signal: caller.signal })
      await repo.resolve(manifest.digest, { signal: caller.signal })
    }
    expect(dependants(caller.signal)?.size ?? 0).toBe(0)
    // One listener however many requests (none would warn of a leak past ten), and it still cancels.
    expect(getEventListeners(caller.signal, 'abort').length).toBeLessThanOrEqual(1)
    caller.abort()
    await expect(repo.fetchManifest('1', { signal: caller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    })
  })
})
