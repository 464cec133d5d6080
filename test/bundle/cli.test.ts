import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importBundle } from '../../src/bundle/import.js'
import { RegistryClient } from '../../src/registry/index.js'
import { signImage } from '../../src/supply/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { makeKeys } from '../supply/helpers.js'
import { catalog, ferry, pushSourceImages, type SourceImages, start, tempDir } from './helpers.js'

describe('ferry bundle and inventory (commands)', () => {
  let reg: Distribution
  let closed: Distribution
  let client: RegistryClient
  let images: SourceImages
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let bundle: string
  const children: ChildProcess[] = []

  beforeAll(async () => {
    ;[reg, closed] = await Promise.all([startDistribution(), startDistribution()])
    client = new RegistryClient()
    tmp = await tempDir('cli')
    images = await pushSourceImages(client, reg.host, 'cli')
    bundle = join(tmp.dir, 'site.tar')
  })
  afterAll(async () => {
    for (const c of children) {
      // A child may have exited between the check and the kill; cleanup below must run regardless.
      if (c.exitCode === null && c.signalCode === null && c.pid) {
        try {
          process.kill(c.pid, 'SIGKILL')
        } catch {}
      }
    }
    await client?.close()
    await Promise.all([reg?.stop(), closed?.stop()])
    await tmp?.cleanup()
  })

  it('creates from --image flags, lists and verifies, with --json for scripts', async () => {
    const created = await ferry(
      'bundle/create',
      '--image',
      images.app,
      '--image',
      images.cli,
      '--output',
      bundle,
    )
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toContain(bundle)
    expect(created.stderr).toMatch(/app-cli 0: 2 images, \d+ blobs .*; sha256 [a-f0-9]{64}/)

    const ls = await ferry('bundle/ls', bundle, '--json')
    expect(ls.code).toBe(0)
    const listing = JSON.parse(ls.stdout)
    expect(listing.images.map((i: { source: string }) => i.source)).toEqual([images.app, images.cli])

    const verified = await ferry('bundle/verify', bundle, '--json')
    expect(verified.code).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: true,
      signature: 'unsigned',
      images: [{ ok: true }, { ok: true }],
    })

    const sbom = await ferry('bundle/verify', bundle, '--require-sbom')
    expect(sbom.code).toBe(5) // the cli image carries no SBOM
    expect(sbom.stdout).toMatch(/FAIL {2}.*tools\/cli:2/)
    expect(sbom.stderr).toContain('1 image failed')
  }, 60_000)

  it('--require-signature and --require-sbom judge each image and name every one that lacks them (exit 7, nothing written)', async () => {
    // app: a cosign .sig tag and an SPDX referrer; cli: nothing; signed: a Sigstore bundle referrer, no SBOM.
    const signedRepo = client.repository({ registry: reg.host, repository: 'tools/signed' })
    const signed = await pushSyntheticImage(
      signedRepo,
      { seed: 'cli/signed', layers: 1, layerSize: 1000 },
      '3',
    )
    await signImage({ target: signedRepo, reference: signed.digest, key: makeKeys().key, format: 'bundle' })
    const signedRef = `${reg.host}/tools/signed:3`
    const out = join(tmp.dir, 'required.tar')
    const create = (...args: string[]) =>
      ferry(
        'bundle/create',
        '--image',
        images.app,
        '--image',
        images.cli,
        '--image',
        signedRef,
        '--output',
        out,
        ...args,
      )

    const both = await create('--require-signature', '--require-sbom')
    expect(both.code).toBe(7)
    expect(both.stderr).toBe(
      `ferry: ${out} not written: 2 images lack what is required: ${images.cli} (no signature, no SBOM), ${signedRef} (no SBOM)\n`,
    )
    expect(existsSync(out)).toBe(false)

    const signature = await create('--require-signature')
    expect(signature.code).toBe(7)
    expect(signature.stderr).toBe(
      `ferry: ${out} not written: 1 image lacks what is required: ${images.cli} (no signature)\n`,
    )
    const json = await create('--require-sbom', '--json')
    expect(JSON.parse(json.stdout).error).toEqual({
      code: 'POLICY_VIOLATION',
      message: `${out} not written: 2 images lack what is required: ${images.cli} (no SBOM), ${signedRef} (no SBOM)`,
    })

    // What the bundle carries is judged: without referrers, the signed image has none.
    const bare = await ferry(
      'bundle/create',
      '--image',
      images.app,
      '--no-referrers',
      '--require-signature',
      '--output',
      out,
    )
    expect(bare.code).toBe(7)
    expect(bare.stderr).toContain(`${images.app} (no signature)`)

    const ok = await ferry(
      'bundle/create',
      '--image',
      images.app,
      '--image',
      signedRef,
      '--require-signature',
      '--output',
      out,
    )
    expect(ok.code, ok.stderr).toBe(0)
    expect(existsSync(out)).toBe(true)
  }, 60_000)

  it('imports with the mapping table and --mapping-out, then inventories the result', async () => {
    const mapping = join(tmp.dir, 'mapping.yaml')
    await writeFile(mapping, `${reg.host}/tools/cli: ops/cli\n`)
    const out = join(tmp.dir, 'images.json')
    const run = await ferry(
      'bundle/import',
      bundle,
      '--to',
      `${closed.host}/site`,
      '--mapping',
      mapping,
      '--mapping-out',
      out,
    )
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain(
      `${images.app}  →  ${closed.host}/site/library/app:1.0  ${images.index.digest}`,
    )
    expect(run.stdout).toMatch(
      new RegExp(`${images.cli} +→ +${closed.host}/site/ops/cli:2 +sha256:[a-f0-9]{64}`),
    )
    const written = JSON.parse(await readFile(out, 'utf8'))
    expect(written.images[0]).toEqual({
      source: images.app,
      destination: `${closed.host}/site/library/app:1.0`,
      digest: images.index.digest,
      pinned: `${closed.host}/site/library/app@${images.index.digest}`,
    })

    const inventory = join(tmp.dir, 'inventory.json')
    const inv = await ferry('inventory', `${closed.host}/site`, '--output', inventory)
    expect(inv.code, inv.stderr).toBe(0)
    const doc = JSON.parse(await readFile(inventory, 'utf8'))
    expect(doc.repositories.map((r: { name: string }) => r.name)).toEqual([
      'site/library/app',
      'site/ops/cli',
    ])
  }, 60_000)

  it('points at the line of a spec error', async () => {
    const spec = join(tmp.dir, 'bad.yaml')
    await writeFile(spec, 'name: site\nversion: 1.10\nimages:\n  - ref: postgres:16\n')
    const run = await ferry('bundle/create', spec, '--output', join(tmp.dir, 'never.tar'))
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`${spec}:2:10: version: expected a string, got 1.10 (quote it: "1.10")`)
  })

  it('resumes an import that was killed midway, skipping what arrived', async () => {
    const big = join(tmp.dir, 'big.tar')
    const repo = client.repository({ registry: reg.host, repository: 'big/app' })
    await pushSyntheticImage(repo, { seed: 'cli/big', layers: 6, layerSize: 6 * 1024 * 1024 }, '1')
    const created = await ferry('bundle/create', '--image', `${reg.host}/big/app:1`, '--output', big)
    expect(created.code, created.stderr).toBe(0)

    const target = await startDistribution()
    try {
      const child = start('bundle/import', [big, '--to', `${target.host}/cut`, '--concurrency', '1'])
      children.push(child)
      const exited = new Promise((ok) => child.once('exit', ok))
      // Blobs go one at a time; the repository shows up in the catalog once the first has been committed.
      for (let i = 0; (await catalog(target.url)).length === 0; i++) {
        if (i > 600 || child.exitCode !== null)
          throw new Error('the import finished or stalled before it could be cut')
        await new Promise((r) => setTimeout(r, 25))
      }
      child.kill('SIGKILL')
      await exited
      const cut = client.repository({ registry: target.host, repository: 'cut/big/app' })
      expect(await cut.listTags().catch(() => [])).toEqual([]) // the tag is written last: not there yet

      const again = await importBundle(testContext({ client }), big, { to: `${target.host}/cut` })
      const blobs = again.images[0]!.blobs
      expect(blobs.skipped).toBeGreaterThan(0)
      expect(blobs.copied).toBeGreaterThan(0)
      expect(blobs.skipped + blobs.copied).toBe(7)
      expect((await cut.resolve('1')).digest).toBe(again.images[0]!.digest)
    } finally {
      await target.stop()
    }
  }, 120_000)
})
