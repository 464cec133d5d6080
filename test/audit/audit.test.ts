import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AuditReport } from '../../src/audit/index.js'
import type { Target } from '../../src/content/target.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { attachSbom, signImage } from '../../src/supply/index.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { examplePolicyIn, OCI_LABELS } from '../policy/helpers.js'
import { skopeo } from '../serve/policy-helpers.js'
import { makeKeys, registryTarget, SPDX, tempDir } from '../supply/helpers.js'

const keys = makeKeys()
const ACTOR = 'release-bot@ci'

/** A labelled image (gzip layers: skopeo copies them as they are), signed with an SBOM unless told not to. */
async function release(target: Target, tag: string, signed: boolean): Promise<Manifest> {
  const image = syntheticImage({ layerSizes: [256], annotations: OCI_LABELS, gzip: true })
  await pushImage(target, image, tag)
  if (signed) {
    await signImage({ target, reference: image.manifest.digest, key: keys.key, format: 'both' })
    const sbom = await attachSbom({ target, reference: image.manifest.digest, bytes: SPDX })
    await signImage({ target, reference: sbom.digest, key: keys.key })
  }
  return image.manifest
}

/**
 * Drift where ferry is not in the write path: a real distribution registry, ferry promote with a ledger,
 * then skopeo (any client) writing around ferry. Only `ferry audit` and `policy check --ledger` notice.
 */
describe('ferry audit against a distribution registry', { timeout: 180_000 }, () => {
  let registry: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let policy: string
  let ledger: string
  let src: Target & { close(): Promise<void> }
  let signed: Manifest
  let unsigned: Manifest
  let prod: string
  const env = { FERRY_ACTOR: ACTOR }

  const audit = (...args: string[]) =>
    ferry(['audit', prod, '--ledger', ledger, '--policy', policy, ...args], { env })
  const copyAround = (from: string, to: string) =>
    skopeo(
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${from}`,
      `docker://${to}`,
    )

  beforeAll(async () => {
    registry = await startDistribution()
    tmp = await tempDir('ferry-audit-')
    policy = (await examplePolicyIn(tmp.dir, keys)).path
    ledger = join(tmp.dir, 'promotions.jsonl')
    src = registryTarget(registry.host, 'acme/shop/api')
    signed = await release(src, 'v1.0.0', true)
    unsigned = await release(src, 'v1.0.1', false)
    prod = `${registry.host}/acme/shop/api-prod`
    const promoted = await ferry(
      ['promote', `${registry.host}/acme/shop/api:v1.0.0`, prod, '--ledger', ledger, '--policy', policy],
      { env },
    )
    expect(promoted.code, promoted.stderr).toBe(0)
  })
  afterAll(async () => {
    await src?.close()
    await registry?.stop()
    await tmp?.remove()
  })

  it('a registry that holds what the ledger recorded and the policy asks is clean: exit 0', async () => {
    const r = await audit()
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(`1 repository, 1 tag, 1 recorded in ${ledger}: no drift`)
    const doc = JSON.parse((await audit('--json')).stdout) as AuditReport
    expect(doc).toMatchObject({ drift: false, findings: [], repositories: [{ tags: 1, recorded: 1 }] })
    expect(doc.ledger).toEqual({ file: ledger, records: 1, chain: 'intact' })
  })

  it('policy check --ledger passes the immutable tag while it names what the ledger recorded', async () => {
    const r = await ferry(['policy', 'check', `${prod}:v1.0.0`, '--policy', policy, '--ledger', ledger])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`pass  immutable   "v1.0.0" already names ${signed.digest}`)
  })

  it('a release tag moved by skopeo: exit 2, the tag, both digests and the ledger line', async () => {
    const moved = await copyAround(`${registry.host}/acme/shop/api:v1.0.1`, `${prod}:v1.0.0`)
    expect(moved.code, moved.stderr).toBe(0)

    const r = await audit()
    expect(r.code).toBe(2)
    const line = r.stdout.split('\n').find((l) => l.includes('moved:'))
    expect(line).toBe(
      `DRIFT  ${prod}:v1.0.0  moved: it names ${unsigned.digest}, the ledger recorded ${signed.digest} at ${ledger}:1 (${line!.match(/\((\d{4}-[^,]+Z), /)![1]}, promote by ${ACTOR})`,
    )
    // The new digest is not signed either: the prod environment's evidence rules say so too.
    expect(r.stdout).toContain(`DRIFT  ${prod}:v1.0.0  signature (environment prod): no signature verifies`)
    expect(r.stderr).toContain('ferry: audit: 1 repository, 1 tag')

    const doc = JSON.parse((await audit('--json')).stdout) as AuditReport
    expect(doc.drift).toBe(true)
    const finding = doc.findings.find((f) => f.kind === 'moved')!
    expect(finding).toMatchObject({
      severity: 'drift',
      image: `${prod}:v1.0.0`,
      digest: unsigned.digest,
      manifestGone: false,
      recorded: { digest: signed.digest, file: ledger, line: 1, actor: ACTOR, operation: 'promote' },
    })
  })

  it('policy check --ledger fails the moved immutable tag, naming the ledger line', async () => {
    // Without the ledger the registry alone cannot tell: the tag names what it names.
    const blind = await ferry(['policy', 'check', `${prod}:v1.0.0`, '--policy', policy])
    expect(blind.stdout).toContain(`pass  immutable   "v1.0.0" already names ${unsigned.digest}`)

    const r = await ferry(['policy', 'check', `${prod}:v1.0.0`, '--policy', policy, '--ledger', ledger])
    expect(r.code).toBe(7)
    expect(r.stdout).toContain(
      `FAIL  immutable   "v1.0.0" is immutable and has moved: it names ${unsigned.digest}, the ledger recorded ${signed.digest} at ${ledger}:1 (`,
    )
  })

  it('a forbidden latest in prod and an unsigned image in a signature-requiring environment', async () => {
    expect((await copyAround(`${registry.host}/acme/shop/api:v1.0.1`, `${prod}:latest`)).code).toBe(0)
    expect((await copyAround(`${registry.host}/acme/shop/api:v1.0.1`, `${prod}:v1.1.0`)).code).toBe(0)
    const r = await audit('--json')
    expect(r.code).toBe(2)
    const doc = JSON.parse(r.stdout) as AuditReport
    const rows = doc.findings.map((f) => [f.image.slice(prod.length + 1), f.kind, f.severity])
    expect(rows).toEqual([
      ['latest', 'forbidden', 'drift'],
      ['latest', 'signature', 'drift'],
      ['latest', 'sbom', 'drift'],
      ['v1.0.0', 'moved', 'drift'],
      ['v1.0.0', 'signature', 'drift'],
      ['v1.0.0', 'sbom', 'drift'],
      ['v1.1.0', 'signature', 'drift'],
      ['v1.1.0', 'sbom', 'drift'],
    ])
    const forbidden = doc.findings.find((f) => f.kind === 'forbidden')!
    expect(forbidden).toMatchObject({ rule: 'tags.forbid', environment: 'prod', digest: unsigned.digest })
    expect(forbidden.message).toBe('tags.forbid (environment prod): tag "latest" is forbidden here (latest)')
  })

  it('an image without the labels its environment requires', async () => {
    // Pushed straight to prod around ferry, signed with an SBOM: only the labels are missing.
    const cart = registryTarget(registry.host, 'acme/shop/cart-prod')
    const bare = syntheticImage({ layerSizes: [256], gzip: true })
    await pushImage(cart, bare, 'v1.3.0')
    await signImage({ target: cart, reference: bare.manifest.digest, key: keys.key, format: 'both' })
    const sbom = await attachSbom({ target: cart, reference: bare.manifest.digest, bytes: SPDX })
    await signImage({ target: cart, reference: sbom.digest, key: keys.key })
    await cart.close()
    const r = await ferry(['audit', `${registry.host}/acme/shop/cart-prod`, '--policy', policy, '--json'])
    expect(r.code, r.stderr).toBe(2)
    const doc = JSON.parse(r.stdout) as AuditReport
    expect(doc.findings.map((f) => [f.image, f.kind, f.rule, f.environment])).toEqual([
      [`${registry.host}/acme/shop/cart-prod:v1.3.0`, 'labels', 'labels', 'prod'],
    ])
    expect(doc.findings[0]!.message).toContain('org.opencontainers.image.revision')
  })

  it('a promoted tag that is gone, with its manifest', async () => {
    const other = `${registry.host}/acme/shop/web-prod`
    const promoted = await ferry(
      ['promote', `${registry.host}/acme/shop/api:v1.0.0`, other, '--ledger', ledger, '--policy', policy],
      { env },
    )
    expect(promoted.code, promoted.stderr).toBe(0)
    // Deleted by digest around ferry (its tags go with it on distribution).
    const web = registryTarget(registry.host, 'acme/shop/web-prod')
    await web.deleteManifest(signed.digest as never)
    await web.close()
    const r = await ferry(['audit', other, '--ledger', ledger, '--no-policy'], { env })
    expect(r.code).toBe(2)
    expect(r.stdout).toContain(
      `DRIFT  ${other}:v1.0.0  gone: the ledger recorded it naming ${signed.digest} at ${ledger}:2 (`,
    )
    expect(r.stdout).toContain('the tag is gone and so is the manifest')
  })

  it('nothing to compare with is a usage error', async () => {
    const r = await ferry(['audit', prod, '--no-policy'], { cwd: tmp.dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('nothing to audit against')
  })
})
