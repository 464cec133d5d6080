import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MediaType } from '../../src/oci/media-types.js'
import { attachSbom, listAttached, signImage, verifyImage } from '../../src/supply/index.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { testContext } from '../helpers/context.js'
import { type Backend, SCHEME, startBackend } from './backends.js'
import { CYCLONEDX, makeKeys, pushTestImage, registryTarget } from './helpers.js'

// Promotion between registries of different kinds: the copy must carry classic signatures (tags),
// bundles and SBOMs (referrers), and the destination must verify on its own.
const keys = makeKeys()
let distribution: Backend
let serve: Backend

beforeAll(async () => {
  ;[distribution, serve] = await Promise.all([startBackend('distribution'), startBackend('serve')])
})

afterAll(async () => {
  await Promise.all([distribution?.stop(), serve?.stop()])
})

describe.each([
  ['distribution', 'serve'],
  ['serve', 'distribution'],
] as const)('copy --referrers from %s to %s', (from, to) => {
  it('carries classic signatures, bundles and signed SBOMs; verify passes on the destination', async () => {
    const backends = { distribution: () => distribution, serve: () => serve }
    const src = backends[from]()
    const dst = backends[to]()
    const source = registryTarget(src.host, 'acme/web')
    const tag = `v1.4.2-${from}`
    let signed: Awaited<ReturnType<typeof signImage>>
    try {
      await pushTestImage(source, tag)
      signed = await signImage({ target: source, reference: tag, key: keys.key, format: 'both' })
      const sbom = await attachSbom({ target: source, reference: tag, bytes: CYCLONEDX })
      await signImage({ target: source, reference: sbom.digest, key: keys.key, format: 'classic' })
    } finally {
      await source.close()
    }

    const result = await copyReference(
      testContext(),
      `${src.host}/acme/web:${tag}`,
      `${dst.host}/acme/web-prod:${tag}`,
      { referrers: true },
    )
    expect(result.destination.digest).toBe(signed.digest)
    expect(result.referrers).toBe(4)

    const destination = registryTarget(dst.host, 'acme/web-prod')
    try {
      const report = await verifyImage({
        target: destination,
        reference: tag,
        publicKey: keys.pub,
        requireSbom: true,
      })
      expect(report.reason).toBeUndefined()
      expect(report.ok).toBe(true)
      expect(report.signatures.map((s) => [s.scheme, s.format, s.ok])).toEqual([
        ['cosign-tag', 'classic', true],
        [SCHEME[to], 'bundle', true],
      ])
      expect(report.sboms?.map((s) => [s.scheme, s.format, s.signed])).toEqual([
        [SCHEME[to], 'cyclonedx', true],
      ])

      const tree = await listAttached({ target: destination, reference: tag })
      expect(tree.referrersScheme).toBe(SCHEME[to])
      const bundle = tree.attached.find((e) => e.artifactType === MediaType.sigstoreBundleV03)
      expect(bundle?.digest).toBe(signed.bundle?.manifest)
    } finally {
      await destination.close()
    }
  })
})
