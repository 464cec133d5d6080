import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry, type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { SPDX } from '../supply/helpers.js'
import {
  errorOf,
  keyFiles,
  LABELS,
  pull,
  push,
  SIGN_ENV,
  SourceImages,
  skopeo,
  stateOf,
} from './policy-helpers.js'

/**
 * The pull gate: in an environment that requires a signature and an SBOM, `serve --policy` serves an
 * image to no client until it verifies with one of the environment's keys, against its own store. The
 * globs leave the host out (`**`), so the default names (the listen address, localhost:PORT) suffice.
 */
const POLICY = `version: 1
environments:
  - name: prod
    match: { repositories: ["**/acme/*-prod"] }
    require:
      signature: { keys: [release.pub, next.pub] }
      sbom: true
    immutable: true
`

describe('serve --policy: the pull gate', { timeout: 180_000 }, () => {
  let dir: string
  let root: string
  let served: ServeProcess
  let src: SourceImages
  let host: string
  let release: Awaited<ReturnType<typeof keyFiles>>
  let next: Awaited<ReturnType<typeof keyFiles>>
  let sbomFile: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-gate-'))
    root = join(dir, 'root')
    release = await keyFiles(dir, 'release')
    next = await keyFiles(dir, 'next')
    sbomFile = join(dir, 'sbom.spdx.json')
    await writeFile(sbomFile, SPDX)
    await writeFile(join(dir, 'ferry.policy.yaml'), POLICY)
    served = await startFerryServe(['--root', root, '--policy', join(dir, 'ferry.policy.yaml')])
    host = served.host
    src = await SourceImages.create(join(dir, 'src'))
  })
  afterAll(async () => {
    await served?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const sign = (ref: string, key: string) => ferry(['sign', ref, '--key', key], { env: SIGN_ENV })

  /** Signature and signed SBOM, as a release pipeline adds them after the push. */
  async function evidence(ref: string) {
    expect((await sign(ref, release.key)).code).toBe(0)
    const attached = await ferry(['attach', 'sbom', ref, '--file', sbomFile])
    expect(attached.code).toBe(0)
    expect((await sign(attached.stdout.trim(), release.key)).code).toBe(0)
    return attached.stdout.trim()
  }

  it('an unsigned release is taken, but pulled by no client: 403 DENIED naming what is missing', async () => {
    const v1 = await src.image('v1', { ...LABELS, build: '1' })
    expect((await push(v1.ref, `${host}/acme/web-prod:v1.0.0`)).code).toBe(0)
    const ref = `${host}/acme/web-prod:v1.0.0`

    const inspected = await skopeo('inspect', '--tls-verify=false', `docker://${ref}`)
    expect(inspected.code).not.toBe(0)
    expect(inspected.stderr).toMatch(/denied/)
    expect(inspected.stderr).toMatch(
      /signature \(environment prod\): no signature verifies with release\.pub, next\.pub/,
    )
    const copied = await pull(ref, join(dir, 'pulled-unsigned'))
    expect(copied.code).not.toBe(0)
    expect(copied.stderr).toMatch(/denied/)

    const res = await fetch(`http://${host}/v2/acme/web-prod/manifests/v1.0.0`)
    expect(res.status).toBe(403)
    expect(await errorOf(res)).toMatchObject({
      code: 'DENIED',
      message: `acme/web-prod:v1.0.0: signature (environment prod): no signature verifies with release.pub, next.pub: no signature found for ${v1.manifest.digest} (cosign .sig tag or bundle referrer) (and 1 more: sbom)`,
    })
    const byDigest = await fetch(`http://${host}/v2/acme/web-prod/manifests/${v1.manifest.digest}`)
    expect(byDigest.status).toBe(403)
    // A HEAD carries no manifest: the digest it answers is what signing after the push needs.
    const head = await fetch(`http://${host}/v2/acme/web-prod/manifests/v1.0.0`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('docker-content-digest')).toBe(v1.manifest.digest)
    // What a verifier needs stays readable: the tags, the blobs, the referrers.
    expect((await fetch(`http://${host}/v2/acme/web-prod/tags/list`)).status).toBe(200)
    const config = (v1.manifest.kind === 'image' && v1.manifest.image.config.digest) as string
    expect((await fetch(`http://${host}/v2/acme/web-prod/blobs/${config}`)).status).toBe(200)
    expect((await fetch(`http://${host}/v2/acme/web-prod/referrers/${v1.manifest.digest}`)).status).toBe(200)
  })

  it('a signature and an SBOM added after publication (immutable repository) make it pullable', async () => {
    const ref = `${host}/acme/web-prod:v1.0.0`
    const digest = (await stateOf(root, 'acme/web-prod')).tags['v1.0.0']!

    expect((await sign(ref, release.key)).code).toBe(0)
    const signedOnly = await skopeo('inspect', '--tls-verify=false', `docker://${ref}`)
    expect(signedOnly.code).not.toBe(0)
    expect(signedOnly.stderr).toMatch(/sbom \(environment prod\): no SBOM attached/)

    const attached = await ferry(['attach', 'sbom', ref, '--file', sbomFile])
    expect(attached.code).toBe(0)
    const unsignedSbom = await skopeo('inspect', '--tls-verify=false', `docker://${ref}`)
    expect(unsignedSbom.stderr).toMatch(/sbom \(environment prod\): 1 SBOM attached, none signed/)

    expect((await sign(attached.stdout.trim(), release.key)).code).toBe(0)
    const inspected = await skopeo('inspect', '--tls-verify=false', `docker://${ref}`)
    expect(inspected.stderr).toBe('')
    expect(JSON.parse(inspected.stdout).Digest).toBe(digest)
    expect((await pull(ref, join(dir, 'pulled-signed'))).code).toBe(0)
    expect((await fetch(`http://${host}/v2/acme/web-prod/manifests/${digest}`)).status).toBe(200)
    // ferry's own verify reads the evidence through the gate.
    const verified = await ferry(['verify', ref, '--key', release.pub, '--require-sbom'])
    expect(verified.code).toBe(0)

    // Nothing moved the release while it was being signed.
    expect((await stateOf(root, 'acme/web-prod')).tags['v1.0.0']).toBe(digest)
  })

  it('a release re-signed after a key rotation: the .sig tag moves in the immutable repository', async () => {
    const digest = (await stateOf(root, 'acme/web-prod')).tags['v1.0.0']!
    const sigTag = `${digest.replace(':', '-')}.sig`
    const before = (await stateOf(root, 'acme/web-prod')).tags[sigTag]
    expect((await sign(`${host}/acme/web-prod:v1.0.0`, next.key)).code).toBe(0)
    const after = (await stateOf(root, 'acme/web-prod')).tags[sigTag]
    expect(after).toBeDefined()
    expect(after).not.toBe(before)
    expect(
      (await skopeo('inspect', '--tls-verify=false', `docker://${host}/acme/web-prod:v1.0.0`)).code,
    ).toBe(0)
  })

  it('multi-arch: platform images by digest pass through a verified index, never through an unsigned one', async () => {
    const signed = await src.index('multi', [LABELS, LABELS])
    expect((await push(signed.ref, `${host}/acme/multi-prod:v1.0.0`, '--all')).code).toBe(0)
    await evidence(`${host}/acme/multi-prod:v1.0.0`)
    expect((await pull(`${host}/acme/multi-prod:v1.0.0`, join(dir, 'pulled-multi'), '--all')).code).toBe(0)
    const children = signed.manifest.kind === 'index' ? signed.manifest.index.manifests : []
    expect(children).toHaveLength(2)
    for (const c of children) {
      expect((await fetch(`http://${host}/v2/acme/multi-prod/manifests/${c.digest}`)).status).toBe(200)
    }

    const unsigned = await src.index('multi-unsigned', [LABELS, LABELS])
    expect((await push(unsigned.ref, `${host}/acme/multi-prod:v1.0.1`, '--all')).code).toBe(0)
    const child = unsigned.manifest.kind === 'index' ? unsigned.manifest.index.manifests[0]! : undefined
    const res = await fetch(`http://${host}/v2/acme/multi-prod/manifests/${child!.digest}`)
    expect(res.status).toBe(403)
    expect((await errorOf(res))?.message).toMatch(
      /^acme\/multi-prod@sha256:[0-9a-f]{64}: signature \(environment prod\)/,
    )
  })

  it('a runnable image under a cosign tag is gated as the image it is', async () => {
    const digest = (await stateOf(root, 'acme/web-prod')).tags['v1.0.0']!
    const smuggled = await src.image('smuggled', { build: 'smuggled' })
    const tag = `${digest.replace(':', '-')}.att`
    // This environment has no tag rules: the push is taken (as an image under the tag `…att`)...
    expect((await push(smuggled.ref, `${host}/acme/web-prod:${tag}`)).code).toBe(0)
    // ...but a runtime pulling it by that tag meets the gate, unsigned as it is.
    const r = await skopeo('inspect', '--tls-verify=false', `docker://${host}/acme/web-prod:${tag}`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/signature \(environment prod\)/)
  })
})
