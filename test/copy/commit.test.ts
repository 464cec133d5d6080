import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyReference } from '../../src/copy/copy-reference.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'

// The commit step itself (precondition, hooks, cosign tag merges) runs on memory: test/unit/copy/commit.test.ts.

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

describe('copy SRC:TAG DST@DIGEST', () => {
  let reg: Distribution
  let proxy: FaultProxy
  let client: RegistryClient

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    client = new RegistryClient()
  })
  afterAll(async () => {
    await client?.close()
    await proxy?.stop()
    await reg?.stop()
  })

  it('checks the digest on the bytes it copies, so a tag that moves meanwhile is refused', async () => {
    const src = client.repository(reg.host, 'moving/app')
    const [old, moved] = [syntheticImage(), syntheticImage()]
    await pushImage(src, old, 'old')
    await pushImage(src, moved, 'v1')
    // The tag moved between a HEAD and the GET: the HEAD (rewritten here) still names the old digest.
    proxy.setRule((r) =>
      r.method === 'HEAD' && r.path.endsWith('/manifests/v1')
        ? {
            kind: 'rewrite',
            fn: (res) => ({
              ...res,
              headers: { ...res.headers, 'docker-content-digest': old.manifest.digest },
            }),
          }
        : undefined,
    )
    const copy = copyReference(
      `${proxy.host}/moving/app:v1`,
      `${reg.host}/moving/copy@${old.manifest.digest}`,
      {
        client,
      },
    )
    expect(await code(copy)).toBe('CONFLICT')
    expect(await client.repository(reg.host, 'moving/copy').hasManifest(moved.manifest.digest)).toBe(false)
  })
})
