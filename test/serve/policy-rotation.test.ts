import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry, type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { errorOf, keyFiles, LABELS, push, SIGN_ENV, SourceImages, stateOf } from './policy-helpers.js'

/** Waits until the server's output matches `re` (a SIGHUP is handled asynchronously). */
async function said(served: ServeProcess, re: RegExp): Promise<void> {
  for (let i = 0; i < 100 && !re.test(served.output()); i++) await new Promise((r) => setTimeout(r, 50))
  expect(served.output()).toMatch(re)
}

const policy = (keys: string, trust = '') => `version: 1
environments:
  - name: prod
    match: { repositories: ["**/acme/*-prod"] }
    require:
      signature: { keys: ${keys} }
    immutable: true
${trust}`

/**
 * docs/signing.md's rotation, against `serve --policy` (its pull gate) with skopeo pushing: releases signed
 * with the old key, the new key added, the current release re-signed onto its immutable tag, the old
 * key revoked by fingerprint and the file reloaded. The re-signed release stays pullable; the release
 * signed only with the old key is refused, the key named as revoked.
 */
describe('serve --policy: a key rotation at the pull gate', { timeout: 180_000 }, () => {
  let dir: string
  let root: string
  let file: string
  let served: ServeProcess
  let host: string
  let oldKey: Awaited<ReturnType<typeof keyFiles>>
  let newKey: Awaited<ReturnType<typeof keyFiles>>
  let oldFp: string

  const sign = async (ref: string, key: string) => {
    const r = await ferry(['sign', ref, '--key', key], { env: SIGN_ENV })
    expect(r.code, r.stderr).toBe(0)
  }
  const get = (tag: string) => fetch(`http://${host}/v2/acme/web-prod/manifests/${tag}`)
  async function reload(text: string) {
    const before = served.output().match(/reloaded/g)?.length ?? 0
    await writeFile(file, text)
    served.signal('SIGHUP')
    const reloaded = new RegExp(`(reloaded[^]*){${before + 1}}`)
    await said(served, reloaded)
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-rotation-'))
    root = join(dir, 'root')
    file = join(dir, 'ferry.policy.yaml')
    oldKey = await keyFiles(dir, 'old')
    newKey = await keyFiles(dir, 'new')
    oldFp = (await ferry(['key', 'fingerprint', oldKey.pub])).stdout.trim()
    await writeFile(file, policy('[old.pub]'))
    served = await startFerryServe(['--root', root, '--policy', file])
    host = served.host
    const src = await SourceImages.create(join(dir, 'src'))
    for (const v of ['v1.0.0', 'v1.0.1']) {
      const image = await src.image(v, { ...LABELS, build: v })
      expect((await push(image.ref, `${host}/acme/web-prod:${v}`)).code).toBe(0)
      await sign(`${host}/acme/web-prod:${v}`, oldKey.key)
      expect((await get(v)).status).toBe(200)
    }
    // Two pushes and two signings through the CLI: past the default hook timeout on two busy cores.
  }, 180_000)
  afterAll(async () => {
    await served?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('re-signs a release on its immutable tag, revokes the old key: the re-signed one passes, the other is refused', async () => {
    const digest = (await stateOf(root, 'acme/web-prod')).tags['v1.0.0']!
    // The new key joins the policy; the current release is signed with it on its immutable tag.
    await reload(policy('[old.pub, new.pub]'))
    await sign(`${host}/acme/web-prod:v1.0.0`, newKey.key)
    expect((await stateOf(root, 'acme/web-prod')).tags['v1.0.0']).toBe(digest)

    // The old key is revoked, by fingerprint, its file out of the policy.
    await reload(policy('[new.pub]', `trust:\n  revoked: [${oldFp}]\n`))
    expect((await get('v1.0.0')).status).toBe(200)
    const refused = await get('v1.0.1')
    expect(refused.status).toBe(403)
    const message = (await errorOf(refused))?.message
    expect(message).toMatch(
      /^acme\/web-prod:v1\.0\.1: signature \(environment prod\): no signature verifies with new\.pub: /,
    )
    expect(message).toContain(`signed with revoked key ${oldFp}`)

    // The web UI judges each signature the same way: the old key's shown as revoked, never as verified.
    const ui = async (tag: string) => (await fetch(`http://${host}/ui/repo/acme/web-prod:${tag}`)).text()
    const onlyOld = await ui('v1.0.1')
    expect(onlyOld).not.toContain('signature-ok')
    const revokedLine = new RegExp(`signature-bad">.*<span>signed with revoked key ${oldFp}</span>`)
    expect(onlyOld).toMatch(revokedLine)
    expect(onlyOld).toMatch(new RegExp(`<tr class="revoked"><td></td><td><code>${oldFp}</code>`))
    const resigned = await ui('v1.0.0')
    expect(resigned).toMatch(/signature-ok">.*verified.* with <strong>new\.pub<\/strong>/)
    expect(resigned).toMatch(revokedLine)

    // verify through the registry, with the policy: the new key named, the old one as revoked.
    const verified = await ferry([
      'verify',
      `${host}/acme/web-prod:v1.0.0`,
      '--key',
      newKey.pub,
      '--policy',
      file,
    ])
    expect(verified.code, verified.stdout).toBe(0)
    expect(verified.stdout).toContain(`by ${newKey.pub} (`)
    expect(verified.stdout).toContain(`signed with revoked key ${oldFp}`)
  })

  it('a key whose notAfter passes while a verdict is cached: the next pull is refused, naming it', async () => {
    const notAfter = new Date(Date.now() + 4000).toISOString()
    await reload(policy(`[{ path: new.pub, notAfter: "${notAfter}" }]`))
    expect((await get('v1.0.0')).status).toBe(200)
    // Nothing attached to the release changes: only the clock makes the cached verdict stale.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(notAfter) - Date.now()) + 200))
    const refused = await get('v1.0.0')
    expect(refused.status).toBe(403)
    expect((await errorOf(refused))?.message).toContain(`expired: notAfter ${notAfter} has passed`)
  })
})
