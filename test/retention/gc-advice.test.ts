import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import type { Manifest } from '../../src/oci/manifest.js'
import type { RetentionApply } from '../../src/retention/index.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pull } from '../serve/policy-helpers.js'
import { makeKeys, registryTarget, tempDir } from '../supply/helpers.js'
import { agedImage, agedIndex, signWithSbom } from './fixtures.js'

const run = promisify(execFile)
const keys = makeKeys()
const OLD = '2024-01-01T00:00:00Z'
// Releases are never deleted; of the rcs, the newest stays.
const POLICY = `version: 1
environments:
  - name: release
    match: { tags: { semver: ">=0.0.0" } }
    retention: { protect: true }
  - name: rc
    match: { tags: { match: "/-rc\\\\.\\\\d+$/" } }
    retention: { keep: { count: 1 } }
`

const layerOf = (m: Manifest): string =>
  (JSON.parse(m.bytes.toString()) as { layers: { digest: string }[] }).layers[0]!.digest
/** Where distribution's filesystem driver keeps a blob's bytes. */
const blobData = (storage: string, digest: string) => {
  const hex = digest.slice('sha256:'.length)
  return join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data')
}

/**
 * The collection `retention apply` advises on distribution 2.x, run for real (`docker-registry
 * garbage-collect` against the test registry's config and storage), after retention deleted an rc: it
 * frees the rc's blobs, and the release it kept, a multi-arch index (platform images untagged, as every
 * client pushes them) signed both ways with a signed SBOM attached (referrers untagged, listed by a
 * sha256-HEX fallback tag), still pulls on every platform and verifies with its SBOM.
 */
describe('the garbage collection retention advises on distribution 2.x', { timeout: 240_000 }, () => {
  let registry: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let web: Target & { close(): Promise<void> }
  let release: Manifest
  let doomed: Manifest
  let advice: string
  let repo: string
  const pub = () => join(tmp.dir, 'release.pub')
  const verify = () => ferry(['verify', `${repo}:v1.0.0`, '--key', pub(), '--require-sbom'])
  const pullAll = (dir: string) => pull(`${repo}:v1.0.0`, join(tmp.dir, dir), '--all')

  beforeAll(async () => {
    registry = await startDistribution()
    tmp = await tempDir('ferry-gc-advice-')
    await writeFile(join(tmp.dir, 'ferry.policy.yaml'), POLICY)
    await writeFile(pub(), keys.publicKeyPem)
    repo = `${registry.host}/acme/shop/web`
    web = registryTarget(registry.host, 'acme/shop/web')
    release = (await agedIndex(web, 'v1.0.0', OLD)).index
    await signWithSbom(web, release, keys)
    doomed = await agedImage(web, 'v1.1.0-rc.1', { annotation: OLD })
    await signWithSbom(web, doomed, keys)
    await agedImage(web, 'v1.1.0-rc.2', { annotation: OLD })
    expect((await verify()).code).toBe(0)
  })
  afterAll(async () => {
    await web?.close()
    await registry?.stop()
    await tmp?.remove()
  })

  it('apply deletes the old rc and advises garbage-collect without --delete-untagged, saying why', async () => {
    const r = await ferry(
      ['retention', 'apply', repo, '--policy', join(tmp.dir, 'ferry.policy.yaml'), '--yes', '--json'],
      { env: { XDG_STATE_HOME: join(tmp.dir, 'state') } },
    )
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as RetentionApply
    expect(doc.summary).toMatchObject({ deleteManifests: 5, failed: 0 })
    advice = doc.gc
    expect(advice).toContain('distribution 2.x')
    expect(advice).toContain('without --delete-untagged')
    expect(advice).toContain('the platform images of multi-arch images and the signatures and SBOMs')
    const human = await ferry(
      ['retention', 'apply', repo, '--policy', join(tmp.dir, 'ferry.policy.yaml'), '--yes'],
      {
        env: { XDG_STATE_HOME: join(tmp.dir, 'state') },
      },
    )
    expect(human.stdout.trimEnd().split('\n').at(-1)).toBe(advice)
  })

  it('the advised command frees the deleted rc and keeps the release pullable and verifiable', async () => {
    const command = /`registry (garbage-collect[^`]*)`/.exec(advice)?.[1]
    expect(command).toBe('garbage-collect CONFIG')
    const args = command!.split(' ').map((a) => (a === 'CONFIG' ? registry.config : a))
    await run('/usr/bin/docker-registry', args)
    expect(existsSync(blobData(registry.storage, layerOf(doomed)))).toBe(false)
    const pulled = await pullAll('after-gc')
    expect(pulled.code, pulled.stderr).toBe(0)
    const verified = await verify()
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
  })

  it('the reason: --delete-untagged on the same registry takes the platforms and the SBOM of the kept release', async () => {
    await run('/usr/bin/docker-registry', ['garbage-collect', '--delete-untagged', registry.config])
    expect((await pullAll('after-delete-untagged')).code).not.toBe(0)
    const verified = await verify()
    expect(verified.code).not.toBe(0)
  })
})
