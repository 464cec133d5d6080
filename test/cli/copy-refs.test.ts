import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, freePort, startDistribution } from '../helpers/distribution.js'

/** What `ferry copy` says about the references it was given, against a real registry (distribution). */
describe('copy: tag and digest, unreachable destination (built CLI)', { timeout: 120_000 }, () => {
  let reg: Distribution
  let client: RegistryClient
  let v1: Manifest
  let v2: Manifest

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient()
    const repo = client.repository({ registry: reg.host, repository: 'acme/app' })
    v1 = await pushSyntheticImage(repo, { seed: 'v1', layers: 1, layerSize: 2000 }, '1.0.0')
    v2 = await pushSyntheticImage(repo, { seed: 'v2', layers: 1, layerSize: 2000 }, '2.0.0')
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
  })

  it('refuses TAG@DIGEST when the tag names another digest; --digest-wins copies the digest and says so', async () => {
    const src = `${reg.host}/acme/app:1.0.0@${v2.digest}`
    const refused = await ferry(['copy', src, `${reg.host}/pin/app`])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toBe(
      `ferry: ${reg.host}/acme/app:1.0.0 is ${v1.digest}, not the ${v2.digest} given with it; nothing copied (--digest-wins copies ${v2.digest})\n`,
    )
    expect(await client.catalog(reg.host)).toEqual(['acme/app'])

    const won = await ferry(['copy', '--digest-wins', src, `${reg.host}/pin/app`])
    expect(won.code, won.stderr).toBe(0)
    expect(won.stdout.trim()).toBe(`${reg.host}/pin/app:1.0.0@${v2.digest}`)
    expect(won.stderr).toContain(
      `note: copied ${v2.digest} as given (--digest-wins); the source tag 1.0.0 is ${v1.digest}\n`,
    )

    // Agreeing, as `crane digest` pins it: copied without a word about it.
    const agreed = await ferry(['copy', `${reg.host}/acme/app:1.0.0@${v1.digest}`, `${reg.host}/pin/agreed`])
    expect(agreed.code, agreed.stderr).toBe(0)
    expect(agreed.stdout.trim()).toBe(`${reg.host}/pin/agreed:1.0.0@${v1.digest}`)
    expect(agreed.stderr).not.toContain('digest-wins')
  })

  it('names the image and the destination when the destination is down', async () => {
    const down = `127.0.0.1:${await freePort()}`
    const r = await ferry(['copy', `${reg.host}/acme/app:1.0.0`, `${down}/x/y:1`])
    expect(r.code).toBe(6)
    expect(r.stderr).toBe(
      `ferry: copy ${reg.host}/acme/app:1.0.0 to ${down}/x/y:1: the destination ${down}: connection refused (ECONNREFUSED)\n`,
    )
  })
})
