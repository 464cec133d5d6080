import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import { readLedger } from '../../src/ledger/index.js'
import { checkImage, loadPolicy, type Policy } from '../../src/policy/index.js'
import { promote, retag } from '../../src/promote/index.js'
import { verifyImage } from '../../src/supply/index.js'
import { testContext } from '../helpers/context.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { type Backend, startBackend } from '../supply/backends.js'
import { makeKeys, registryTarget, tempDir } from '../supply/helpers.js'
import { examplePolicyIn, OCI_LABELS, releaser } from './helpers.js'

const keys = makeKeys()
const other = makeKeys()

const release = releaser(keys)

const writes = (p: FaultProxy) => p.seen.filter((r) => !['GET', 'HEAD'].includes(r.method))

// Rules that read content the same way on every store (labels, warn mode) run on memory:
// test/unit/policy/check.test.ts. Here: signatures found through each referrers scheme, and promote.
describe.each(['distribution', 'serve'] as const)('governance on %s', (kind) => {
  let backend: Backend
  let proxy: FaultProxy
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let policy: Policy
  let src: Target & { close(): Promise<void> }
  let dstHost: string

  beforeAll(async () => {
    backend = await startBackend(kind)
    // The destination is the same registry seen through a logging proxy: every request promote sends
    // to DST is on record, and none to the source is.
    proxy = await startFaultProxy(backend.url)
    dstHost = proxy.host
    tmp = await tempDir('ferry-governance-')
    policy = await loadPolicy((await examplePolicyIn(tmp.dir, keys)).path)
    src = registryTarget(backend.host, 'acme/shop/api')
  })
  afterAll(async () => {
    await src?.close()
    await proxy?.stop()
    await backend?.stop()
    await tmp?.remove()
  })

  const ledger = () => join(tmp.dir, 'promotions.jsonl')
  const promoteOpts = (extra: Partial<Parameters<typeof promote>[3]> = {}) => ({
    policy,
    ledger: ledger(),
    ferryVersion: '0.0.0-test',
    journal: false as const,
    ...extra,
  })

  it('passes every prod rule for a signed release with a signed SBOM, and fails each one that is broken', async () => {
    const good = await release(src, 'v1.0.0', { sign: true, sbom: 'signed' })
    const prodName = (tag: string) => ({ host: dstHost, repository: 'acme/shop/api-prod', tag })
    const ok = await checkImage({ policy, target: src, digest: good.digest, name: prodName('v1.0.0') })
    expect(ok.environment).toBe('prod')
    expect(ok.checks.map((c) => [c.rule, c.result])).toEqual([
      ['naming', 'pass'],
      ['labels', 'pass'],
      ['signature', 'pass'],
      ['sbom', 'pass'],
      ['tags.forbid', 'pass'],
      ['tags.semver', 'pass'],
      ['immutable', 'pass'],
    ])
    const sig = ok.checks.find((c) => c.rule === 'signature')!
    expect(sig.evidence).toMatchObject({
      key: 'release.pub',
      fingerprint: policy.environments[0]!.keys[0]!.fingerprint,
    })
    // Both schemes were written: both verify, and the evidence names each signature manifest.
    expect((sig.evidence as { signatures: unknown[] }).signatures).toHaveLength(2)

    const bad = await checkImage({
      policy,
      target: src,
      digest: good.digest,
      name: { ...prodName('latest'), repository: 'acme/shop/API-prod' },
    })
    expect(Object.fromEntries(bad.checks.map((c) => [c.rule, c.result]))).toMatchObject({
      naming: 'fail',
      'tags.forbid': 'fail',
      'tags.semver': 'fail',
    })

    const wrongKey = await release(src, 'v1.0.1', { sign: true, sbom: 'signed', key: other })
    const byOther = await checkImage({
      policy,
      target: src,
      digest: wrongKey.digest,
      name: prodName('v1.0.1'),
    })
    expect(byOther.checks.find((c) => c.rule === 'signature')).toMatchObject({ result: 'fail' })
    expect(byOther.checks.find((c) => c.rule === 'sbom')).toMatchObject({ result: 'fail' })

    const unsignedSbom = await release(src, 'v1.0.2', { sign: true, sbom: 'unsigned' })
    const noSbomSig = await checkImage({
      policy,
      target: src,
      digest: unsignedSbom.digest,
      name: prodName('v1.0.2'),
    })
    expect(noSbomSig.checks.find((c) => c.rule === 'signature')!.result).toBe('pass')
    expect(noSbomSig.checks.find((c) => c.rule === 'sbom')).toMatchObject({
      result: 'fail',
      message: '1 SBOM attached, none signed with the given key',
    })
  })

  it('refuses an unsigned image in prod before sending the destination a single request', async () => {
    const m = await release(src, 'v2.0.0')
    proxy.seen.length = 0
    const result = await promote(
      testContext(),
      `${backend.host}/acme/shop/api:v2.0.0`,
      `${dstHost}/acme/shop/api-prod`,
      promoteOpts(),
    )
    expect(result.verdict).toBe('refused')
    expect(result.digest).toBe(m.digest)
    expect(result.reason).toMatch(/^signature \(environment prod\): no signature verifies with release\.pub/)
    expect(proxy.seen).toEqual([])
    expect(
      await registryTarget(backend.host, 'acme/shop/api-prod')
        .listTags()
        .catch(() => []),
    ).not.toContain('v2.0.0')
  })

  it('promotes a signed release with its signatures and SBOM, then re-promoting it is a no-op', async () => {
    const m = await release(src, 'v3.0.0', { sign: true, sbom: 'signed' })
    proxy.seen.length = 0
    const result = await promote(
      testContext(),
      `${backend.host}/acme/shop/api:v3.0.0`,
      `${dstHost}/acme/shop/api-prod`,
      promoteOpts(),
    )
    expect(result.verdict).toBe('promoted')
    expect(result.destination).toBe(`${dstHost}/acme/shop/api-prod:v3.0.0`)
    expect(result.checks.every((c) => c.result === 'pass')).toBe(true)
    expect(result.checks.map((c) => c.rule)).toContain('immutable')
    // The image's two signatures (one per scheme), the SBOM and its signature: all carried.
    expect(result.copy!.referrers).toBe(4)
    const dst = registryTarget(dstHost, 'acme/shop/api-prod')
    try {
      expect((await dst.resolve('v3.0.0')).digest).toBe(m.digest)
      const verified = await verifyImage({
        target: dst,
        reference: 'v3.0.0',
        publicKey: keys.pub,
        requireSbom: true,
      })
      expect(verified.ok).toBe(true)
    } finally {
      await dst.close()
    }

    proxy.seen.length = 0
    const again = await promote(
      testContext(),
      `${backend.host}/acme/shop/api:v3.0.0`,
      `${dstHost}/acme/shop/api-prod`,
      promoteOpts(),
    )
    expect(again.verdict).toBe('unchanged')
    expect(again.copy).toBeUndefined()
    expect(writes(proxy)).toEqual([])
  })

  it('refuses to move an immutable tag, naming both digests, even with --force', async () => {
    const first = await release(src, 'v4.0.0', { sign: true, sbom: 'signed' })
    expect(
      (
        await promote(
          testContext(),
          `${backend.host}/acme/shop/api:v4.0.0`,
          `${dstHost}/acme/shop/api-prod`,
          promoteOpts(),
        )
      ).verdict,
    ).toBe('promoted')
    const rebuilt = await release(src, 'v4.0.0', { sign: true, sbom: 'signed' })
    for (const force of [false, true]) {
      proxy.seen.length = 0
      const result = await promote(
        testContext(),
        `${backend.host}/acme/shop/api:v4.0.0`,
        `${dstHost}/acme/shop/api-prod`,
        promoteOpts({ force }),
      )
      expect(result.verdict).toBe('refused')
      expect(result.reason).toBe(
        `immutable (environment prod): "v4.0.0" is immutable and names ${first.digest}; it cannot move to ${rebuilt.digest}`,
      )
      expect(result.previous).toBe(first.digest)
      expect(writes(proxy)).toEqual([])
    }
    const dst = registryTarget(dstHost, 'acme/shop/api-prod')
    expect((await dst.resolve('v4.0.0')).digest).toBe(first.digest)
    await dst.close()
  })

  it('promotes into a warn environment with warnings, and moves a tag there only with --force', async () => {
    const first = await release(src, '2.0-dev', { labels: 'none' })
    const promoted = await promote(
      testContext(),
      `${backend.host}/acme/shop/api:2.0-dev`,
      `${dstHost}/acme/shop/api-qa`,
      promoteOpts(),
    )
    expect(promoted.verdict).toBe('promoted')
    expect(promoted.environment).toBe('dev')
    expect(promoted.checks.filter((c) => c.result === 'warn').map((c) => c.rule)).toEqual(['labels'])
    const second = await release(src, '2.0-dev', { labels: 'none' })
    const refused = await promote(
      testContext(),
      `${backend.host}/acme/shop/api:2.0-dev`,
      `${dstHost}/acme/shop/api-qa`,
      promoteOpts(),
    )
    expect(refused.verdict).toBe('refused')
    expect(refused.reason).toBe(
      `${dstHost}/acme/shop/api-qa:2.0-dev names ${first.digest}; promoting ${second.digest} would move it (--force moves it)`,
    )
    const forced = await promote(
      testContext(),
      `${backend.host}/acme/shop/api:2.0-dev`,
      `${dstHost}/acme/shop/api-qa`,
      promoteOpts({ force: true }),
    )
    expect(forced).toMatchObject({
      verdict: 'promoted',
      forced: true,
      previous: first.digest,
      digest: second.digest,
    })
  })

  it('promotes exactly the digest given, whatever the source tag names meanwhile', async () => {
    const wanted = await release(src, 'v5.0.0', { sign: true, sbom: 'signed' })
    await release(src, 'v5.0.0', { sign: true, sbom: 'signed' }) // the tag moves on
    const result = await promote(
      testContext(),
      `${backend.host}/acme/shop/api@${wanted.digest}`,
      `${dstHost}/acme/shop/api-prod:v5.0.0`,
      promoteOpts(),
    )
    expect(result.verdict).toBe('promoted')
    const dst = registryTarget(dstHost, 'acme/shop/api-prod')
    expect((await dst.resolve('v5.0.0')).digest).toBe(wanted.digest)
    await dst.close()
  })

  it('keeps one ledger line per attempt, refused ones included, also from concurrent promotes', async () => {
    const path = join(tmp.dir, `concurrent-${kind}.jsonl`)
    const images = []
    for (let i = 0; i < 6; i++)
      images.push(
        await release(src, `v6.0.${i}`, { sign: i % 2 === 0, sbom: i % 2 === 0 ? 'signed' : undefined }),
      )
    const results = await Promise.all(
      images.map((_, i) =>
        promote(
          testContext(),
          `${backend.host}/acme/shop/api:v6.0.${i}`,
          `${dstHost}/acme/shop/api-prod`,
          promoteOpts({ ledger: path }),
        ),
      ),
    )
    expect(results.map((r) => r.verdict)).toEqual([
      'promoted',
      'refused',
      'promoted',
      'refused',
      'promoted',
      'refused',
    ])
    const { records, torn } = await readLedger(path)
    expect(torn).toBe(false)
    expect(records).toHaveLength(6)
    expect(records.map((r) => r.digest).sort()).toEqual(images.map((m) => m.digest).sort())
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n')
    expect(lines).toHaveLength(6)
    const refused = records.find((r) => r.verdict === 'refused')!
    expect(refused).toMatchObject({
      source: expect.stringMatching(/acme\/shop\/api:v6\.0\.[135]$/),
      environment: 'prod',
      forced: false,
      ferryVersion: '0.0.0-test',
      labels: {
        source: OCI_LABELS['org.opencontainers.image.source'],
        revision: '0b1c2d3e4f5a',
        created: '2026-11-30T12:00:00Z',
      },
    })
    expect(refused.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(refused.checks.find((c) => c.rule === 'signature')!.result).toBe('fail')
  })

  it('retags by digest, and an immutable tag does not move', async () => {
    const prod = registryTarget(backend.host, 'acme/shop/api-prod')
    try {
      const a = await release(prod, 'v7.0.0')
      const b = await release(prod, 'v7.0.1')
      const tagged = await retag(
        testContext(),
        `${backend.host}/acme/shop/api-prod@${a.digest}`,
        'v7.0.0-copy',
        { policy },
      )
      expect(tagged).toMatchObject({ changed: true, digest: a.digest, environment: 'prod' })
      expect((await prod.resolve('v7.0.0-copy')).digest).toBe(a.digest)
      await expect(
        retag(testContext(), `${backend.host}/acme/shop/api-prod@${b.digest}`, 'v7.0.0', { policy }),
      ).rejects.toThrow(`"v7.0.0" is immutable and names ${a.digest}; it cannot move to ${b.digest}`)
      // Without a policy a tag moves, as crane tag moves it.
      expect(
        (await retag(testContext(), `${backend.host}/acme/shop/api-prod@${b.digest}`, 'v7.0.0')).previous,
      ).toBe(a.digest)
      expect((await prod.resolve('v7.0.0')).digest).toBe(b.digest)
    } finally {
      await prod.close()
    }
  })
})
