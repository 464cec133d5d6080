import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { signImage } from '../../src/supply/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { makeKeys, tempDir } from '../supply/helpers.js'

/**
 * `bundle:FILE:IMAGE` is a location like any other (src/reference/location.ts): every command that
 * reads an image takes it, read-only, with the bundle verified first and nothing else contacted. The
 * registry the bundle was made from is stopped before any of them runs.
 */
describe('bundle:FILE:IMAGE as a source (built CLI)', { timeout: 180_000 }, () => {
  let connected: Distribution
  let closed: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let image: Manifest
  /** The cosign `.sig` manifest. */
  let signature: string
  let name: string
  let source: string
  let bundle: string
  let pub: string
  let stopped = false
  const keys = makeKeys()

  beforeAll(async () => {
    ;[connected, closed, tmp] = await Promise.all([
      startDistribution(),
      startDistribution(),
      tempDir('ferry-bundle-src-'),
    ])
    const client = new RegistryClient()
    try {
      const target = client.repository({ registry: connected.host, repository: 'acme/api' })
      image = await pushSyntheticImage(target, { seed: 'bundle-src', layers: 1, layerSize: 3000 }, '1.0')
      const signed = await signImage({ target, reference: image.digest, key: keys.key, format: 'classic' })
      signature = signed.classic!.manifest
    } finally {
      await client.close()
    }
    name = `${connected.host}/acme/api`
    bundle = join(tmp.dir, 'site.tar')
    source = `bundle:${bundle}:${name}:1.0`
    pub = join(tmp.dir, 'release.pub')
    await writeFile(pub, keys.publicKeyPem)
    const created = await ferry(['bundle', 'create', '--image', `${name}:1.0`, '--output', bundle])
    expect(created.code, created.stderr).toBe(0)
    await connected.stop()
    stopped = true
  })
  afterAll(async () => {
    await Promise.all([stopped ? undefined : connected?.stop(), closed?.stop()])
    await tmp?.remove()
  })

  it('digest and inspect', async () => {
    const digest = await ferry(['digest', source])
    expect(digest.code, digest.stderr).toBe(0)
    expect(digest.stdout.trim()).toBe(image.digest)
    const inspected = await ferry(['inspect', `bundle:${bundle}:${name}@${image.digest}`, '--json'])
    expect(inspected.code, inspected.stderr).toBe(0)
    expect(JSON.parse(inspected.stdout)).toMatchObject({ digest: image.digest, name: `${bundle}:${name}` })
  })

  it('tags: of one image’s repository, and of every image in the bundle', async () => {
    const one = await ferry(['tags', `bundle:${bundle}:${name}`, '--json'])
    expect(one.code, one.stderr).toBe(0)
    expect(JSON.parse(one.stdout).tags).toEqual(['1.0', `sha256-${image.digest.slice(7)}.sig`])
    const all = await ferry(['tags', `bundle:${bundle}`])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout.split('\n')).toContain(`${name}:1.0`)
  })

  it('referrers and verify', async () => {
    const attached = await ferry(['referrers', source, '--json'])
    expect(attached.code, attached.stderr).toBe(0)
    expect(JSON.stringify(JSON.parse(attached.stdout).attached)).toContain(signature)
    const verified = await ferry(['verify', source, '--key', pub, '--json'])
    expect(verified.code, verified.stderr).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({ digest: image.digest, ok: true })
  })

  it('copy: to a layout and to a registry, signature included', async () => {
    const layout = await ferry(['copy', source, `oci:${join(tmp.dir, 'out')}:acme/api:1.0`, '--json'])
    expect(layout.code, layout.stderr).toBe(0)
    expect(JSON.parse(layout.stdout).destination.digest).toBe(image.digest)
    const registry = await ferry(['copy', source, `${closed.host}/copied/api:1.0`, '--referrers', '--json'])
    expect(registry.code, registry.stderr).toBe(0)
    expect(JSON.parse(registry.stdout)).toMatchObject({ destination: { digest: image.digest }, referrers: 1 })
  })

  it('promote: from the bundle into a registry', async () => {
    const promoted = await ferry(['promote', source, `${closed.host}/prod/api`, '--no-policy', '--json'], {
      cwd: tmp.dir,
    })
    expect(promoted.code, promoted.stderr + promoted.stdout).toBe(0)
    expect(JSON.parse(promoted.stdout)).toMatchObject({
      verdict: 'promoted',
      source,
      destination: `${closed.host}/prod/api:1.0`,
      digest: image.digest,
    })
  })

  it('sync: a spec source in a bundle, by repository and tag filter', async () => {
    const spec = join(tmp.dir, 'sync.yaml')
    await writeFile(
      spec,
      `version: 1\ntarget: ${closed.host}/mirror\nimages:\n  - source: bundle:${bundle}:${name}\n    tags: ["1.0"]\n`,
    )
    const synced = await ferry(['sync', spec, '--json'])
    expect(synced.code, synced.stderr).toBe(0)
    const report = JSON.parse(synced.stdout)
    expect(report.entries).toMatchObject([
      {
        source: `bundle:${bundle}:${name}:1.0`,
        destination: `${closed.host}/mirror/acme/api:1.0`,
        status: 'copied',
        sourceDigest: image.digest,
      },
    ])
    const again = JSON.parse((await ferry(['sync', spec, '--json'])).stdout)
    expect(again.entries[0].status).toBe('in-sync')
  })

  it('pin --from bundle:FILE: resolved and verified in the bundle, pinned to the internal name', async () => {
    await mkdir(join(tmp.dir, 'deploy'), { recursive: true })
    await writeFile(join(tmp.dir, 'deploy', 'compose.yaml'), `services:\n  api:\n    image: ${name}:1.0\n`)
    const out = join(tmp.dir, 'pinned')
    const pinned = await ferry([
      'pin',
      join(tmp.dir, 'deploy'),
      '--registry',
      `${closed.host}/cache`,
      '--from',
      `bundle:${bundle}`,
      '--key',
      pub,
      '--out',
      out,
    ])
    expect(pinned.code, pinned.stderr).toBe(0)
    expect(await readFile(join(out, 'compose.yaml'), 'utf8')).toBe(
      `services:\n  api:\n    image: ${closed.host}/cache/acme/api:1.0@${image.digest}\n`,
    )
    const notThere = await ferry([
      'pin',
      join(tmp.dir, 'deploy'),
      '--registry',
      `${closed.host}/cache`,
      '--from',
      `bundle:${join(tmp.dir, 'missing.tar')}`,
      '--allow-unverified',
      '--out',
      join(tmp.dir, 'never'),
    ])
    expect(notThere.code).not.toBe(0)
  })

  it('as a destination: refused in one line, exit 2, before anything is read', async () => {
    for (const args of [
      ['copy', `oci:${join(tmp.dir, 'out')}:acme/api:1.0`, `bundle:${join(tmp.dir, 'new.tar')}:${name}:2.0`],
      ['copy', source, `bundle:${bundle}:${name}:2.0`],
      ['tag', source, '2.0'],
    ]) {
      const r = await ferry(args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr).toContain(
        'a bundle is read-only, a source only; bundles are written by ferry bundle create',
      )
    }
  })

  it('names the image: bundle:FILE alone is not an image', async () => {
    const r = await ferry(['digest', `bundle:${bundle}`])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('expected bundle:FILE.tar:IMAGE')
  })
})
