import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import { attachSbom, signImage } from '../../src/supply/index.js'
import { type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { makeKeys, registryTarget, SPDX } from '../supply/helpers.js'
import { errorOf, pull, skopeo } from './policy-helpers.js'

const POLICY = `version: 1
environments:
  - name: prod
    match: { repositories: ["**/acme/*-prod"] }
    require:
      signature: { keys: [release.pub] }
      sbom: true
`

/**
 * `serve --upstream --policy`: a pull-through cache serves nothing the policy would refuse, whatever the
 * upstream registry (here the CNCF distribution registry, which has no referrers API: the SBOM is found
 * through the sha256-HEX tag index) holds. The signatures are read through the cache.
 */
describe('serve --upstream --policy: the pull gate on cached content', { timeout: 120_000 }, () => {
  const keys = makeKeys()
  let dir: string
  let upstream: Distribution
  let mirror: ServeProcess
  let repo: Target & { close(): Promise<void> }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-mirror-policy-'))
    await writeFile(join(dir, 'release.pub'), keys.publicKeyPem)
    await writeFile(join(dir, 'ferry.policy.yaml'), POLICY)
    upstream = await startDistribution()
    repo = registryTarget(upstream.host, 'acme/web-prod')
    mirror = await startFerryServe([
      '--root',
      join(dir, 'cache'),
      '--upstream',
      `http://${upstream.host}`,
      '--policy',
      join(dir, 'ferry.policy.yaml'),
    ])
  })
  afterAll(async () => {
    await mirror?.stop()
    await repo?.close()
    await upstream?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('an unsigned image upstream is refused through the cache; a signed one with a signed SBOM pulls', async () => {
    const unsigned = syntheticImage({ gzip: true, layerSizes: [300] })
    await pushImage(repo, unsigned, 'v1.0.0')
    const signed = syntheticImage({ gzip: true, layerSizes: [300] })
    await pushImage(repo, signed, 'v1.0.1')
    await signImage({ target: repo, reference: signed.manifest.digest, key: keys.key })
    const sbom = await attachSbom({ target: repo, reference: signed.manifest.digest, bytes: SPDX })
    await signImage({ target: repo, reference: sbom.digest, key: keys.key })

    const refused = await skopeo(
      'inspect',
      '--tls-verify=false',
      `docker://${mirror.host}/acme/web-prod:v1.0.0`,
    )
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/denied: acme\/web-prod:v1\.0\.0: signature \(environment prod\)/)
    const res = await fetch(`http://${mirror.host}/v2/acme/web-prod/manifests/${unsigned.manifest.digest}`)
    expect(res.status).toBe(403)
    expect((await errorOf(res))?.code).toBe('DENIED')

    const inspected = await skopeo(
      'inspect',
      '--tls-verify=false',
      `docker://${mirror.host}/acme/web-prod:v1.0.1`,
    )
    expect(inspected.stderr).toBe('')
    expect(JSON.parse(inspected.stdout).Digest).toBe(signed.manifest.digest)
    expect((await pull(`${mirror.host}/acme/web-prod:v1.0.1`, join(dir, 'pulled'))).code).toBe(0)
  })
})
