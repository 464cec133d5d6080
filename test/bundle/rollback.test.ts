import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { isOlder } from '../../src/bundle/import-record.js'
import { listBundle } from '../../src/bundle/list.js'
import { readBundleMetadata } from '../../src/bundle/reader.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { resolveIfPresent } from '../../src/content/present.js'
import { isFerryError } from '../../src/errors.js'
import { OciLayout } from '../../src/layout/index.js'
import { digestOf } from '../../src/oci/digest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { ferry, tempDir } from './helpers.js'

const CREATED = '2023-11-14T22:13:20Z' // SOURCE_DATE_EPOCH 1700000000
const LATER = '2027-01-15T08:00:00Z' // SOURCE_DATE_EPOCH 1800000000

describe('bundle rollback', () => {
  let reg: Distribution
  let dest: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let recordFile: string
  let keyFile: string
  const pair = generateKeyPair('rollback')
  const signingKey = decryptPrivateKey(pair.privateKeyPem, 'rollback')
  const publicKey = readPublicKey(pair.publicKeyPem)
  /** `app:1.0` moves from d1 (bundle v1, sequence 1) to d2 (v2, sequence 2); `cli:2` is the same in both. */
  let v1: string
  let v2: string
  let d1: string
  let d2: string
  let cli: string

  beforeAll(async () => {
    ;[reg, dest] = await Promise.all([startDistribution(), startDistribution()])
    client = new RegistryClient()
    tmp = await tempDir('rollback')
    // The command runs below read the default record, so this file's imports get one of their own.
    process.env.XDG_STATE_HOME = join(tmp.dir, 'state')
    recordFile = join(tmp.dir, 'state', 'ferry', 'bundle-imports.json')
    keyFile = join(tmp.dir, 'release.pub')
    await writeFile(keyFile, pair.publicKeyPem)
    const app = client.repository({ registry: reg.host, repository: 'library/app' })
    const tools = client.repository({ registry: reg.host, repository: 'tools/cli' })
    cli = (await pushSyntheticImage(tools, { seed: 'rollback/cli', layers: 1, layerSize: 10_000 }, '2'))
      .digest
    const images = [`${reg.host}/library/app:1.0`, `${reg.host}/tools/cli:2`]
    // The same SOURCE_DATE_EPOCH for both: only the sequence tells them apart.
    const env = { SOURCE_DATE_EPOCH: '1700000000' }
    d1 = (await pushSyntheticImage(app, { seed: 'rollback/1', layers: 1, layerSize: 10_000 }, '1.0')).digest
    v1 = join(tmp.dir, 'app-1.tar')
    await createBundle(testContext({ client }), specFromImages(images, { name: 'app', version: '1' }), {
      output: v1,
      signingKey,
      sequence: 1,
      env,
    })
    d2 = (await pushSyntheticImage(app, { seed: 'rollback/2', layers: 1, layerSize: 10_000 }, '1.0')).digest
    v2 = join(tmp.dir, 'app-2.tar')
    await createBundle(testContext({ client }), specFromImages(images, { name: 'app', version: '2' }), {
      output: v2,
      signingKey,
      sequence: 2,
      env,
    })
  })
  afterAll(async () => {
    await client?.close()
    await Promise.all([reg?.stop(), dest?.stop()])
    await tmp?.cleanup()
  })

  const site = () => `${dest.host}/site`
  const tagAt = async (path: string, tag: string) =>
    (await resolveIfPresent(client.repository({ registry: dest.host, repository: path }), tag))?.digest
  const refusal = (older: string, newer: string, from: string, to: string) =>
    `${dest.host}/site/library/app:1.0: bundle ${older} is older than bundle ${newer}, which set the tag to ${from}; refusing to move it back to ${to} (--allow-downgrade imports it anyway)`

  it('records the sequence after created in the signed metadata; ls and verify show it', async () => {
    const { metadata, metadataBytes } = await readBundleMetadata(v1)
    expect(Object.keys(metadata).slice(0, 6)).toEqual([
      'formatVersion',
      'name',
      'version',
      'created',
      'sequence',
      'entries',
    ])
    expect([metadata.formatVersion, metadata.created, metadata.sequence]).toEqual([2, CREATED, 1])
    expect(metadataBytes.toString()).toContain(`"created": "${CREATED}",\n  "sequence": 1,\n`)
    expect((await listBundle(v2, { publicKey })).sequence).toBe(2)
    const verified = await verifyBundleFile(v2, { publicKey })
    expect([verified.signature, verified.sequence, verified.created]).toEqual(['verified', 2, CREATED])
  })

  it('refuses v1 after v2 and leaves the tag at v2; same bundle again is fine; --allow-downgrade moves it back', async () => {
    const first = await importBundle(testContext({ client }), v2, { to: site(), publicKey })
    expect(first.images.map((i) => [i.destination, i.digest])).toEqual([
      [`${dest.host}/site/library/app:1.0`, d2],
      [`${dest.host}/site/tools/cli:2`, cli],
    ])
    expect([first.sequence, first.created, first.downgraded]).toEqual([2, CREATED, []])

    const refused = await importBundle(testContext({ client }), v1, { to: site(), publicKey }).catch(
      (e: unknown) => e,
    )
    expect(isFerryError(refused, 'POLICY_VIOLATION')).toBe(true)
    expect((refused as Error).message).toBe(
      refusal(`app 1 (sequence 1, created ${CREATED})`, `app 2 (sequence 2, created ${CREATED})`, d2, d1),
    )
    expect(await tagAt('site/library/app', '1.0')).toBe(d2)
    // Refused before anything was written: v1's manifest never reached the destination.
    expect(await tagAt('site/library/app', d1)).toBeUndefined()

    const again = await importBundle(testContext({ client }), v2, { to: site(), publicKey })
    expect(again.downgraded).toEqual([])
    expect(again.images.map((i) => i.blobs.copied)).toEqual([0, 0])
    expect(await tagAt('site/library/app', '1.0')).toBe(d2)

    const downgraded = await importBundle(testContext({ client }), v1, {
      to: site(),
      publicKey,
      allowDowngrade: true,
    })
    expect(downgraded.downgraded).toEqual([
      {
        destination: `${dest.host}/site/library/app:1.0`,
        from: d2,
        to: d1,
        previous: { name: 'app', version: '2', sequence: 2, created: CREATED },
      },
    ])
    expect(await tagAt('site/library/app', '1.0')).toBe(d1)
    const record = JSON.parse(await readFile(recordFile, 'utf8'))
    const { metadataBytes } = await readBundleMetadata(v1)
    expect(record.version).toBe(1)
    expect(Object.keys(record.tags)).toEqual([
      `${dest.host}/site/library/app:1.0`,
      `${dest.host}/site/tools/cli:2`,
    ])
    const app = record.tags[`${dest.host}/site/library/app:1.0`]
    expect({ ...app, imported: undefined }).toEqual({
      name: 'app',
      version: '1',
      sequence: 1,
      created: CREATED,
      digest: d1,
      metadata: digestOf(metadataBytes),
      imported: undefined,
    })
    // cli:2 did not move: it keeps the record of the newer bundle that set it.
    expect([
      record.tags[`${dest.host}/site/tools/cli:2`].version,
      record.tags[`${dest.host}/site/tools/cli:2`].sequence,
    ]).toEqual(['2', 2])

    // And forward again, no flag needed.
    const forward = await importBundle(testContext({ client }), v2, { to: site(), publicKey })
    expect(forward.downgraded).toEqual([])
    expect(await tagAt('site/library/app', '1.0')).toBe(d2)
  })

  it('lets an older bundle set a tag someone else has moved since the newer import', async () => {
    const to = `${dest.host}/moved`
    await importBundle(testContext({ client }), v2, { to, publicKey })
    const refused = await importBundle(testContext({ client }), v1, { to, publicKey }).catch(
      (e: unknown) => e,
    )
    expect(isFerryError(refused, 'POLICY_VIOLATION')).toBe(true)
    const other = await pushSyntheticImage(
      client.repository({ registry: dest.host, repository: 'moved/library/app' }),
      { seed: 'rollback/other', layers: 1, layerSize: 1000 },
      '1.0',
    )
    expect(await tagAt('moved/library/app', '1.0')).toBe(other.digest)
    // The tag no longer holds v2's image: v2's record does not speak for it.
    const result = await importBundle(testContext({ client }), v1, { to, publicKey })
    expect(result.downgraded).toEqual([])
    expect(await tagAt('moved/library/app', '1.0')).toBe(d1)
  })

  it('M5: refuses v1 after v2 however the destination host is spelled, in an older record file too', async () => {
    const port = dest.host.split(':')[1]
    await importBundle(testContext({ client }), v2, { to: `localhost:${port}/spelled`, publicKey })
    for (const host of [`LOCALHOST:${port}`, `LocalHost:${port}`]) {
      const refused = await importBundle(testContext({ client }), v1, {
        to: `${host}/spelled`,
        publicKey,
      }).catch((e: unknown) => e)
      expect(isFerryError(refused, 'POLICY_VIOLATION'), `${host}: ${refused}`).toBe(true)
    }
    const cli = await ferry('bundle/import', v1, '--to', `LOCALHOST:${port}/spelled`, '--key', keyFile)
    expect(cli.code, cli.stderr).toBe(7)
    expect(await tagAt('spelled/library/app', '1.0')).toBe(d2)

    // A record file written before keys were canonical holds the host as it was typed.
    await importBundle(testContext({ client }), v2, { to: `localhost:${port}/legacy`, publicKey })
    const file = JSON.parse(await readFile(recordFile, 'utf8'))
    const key = `localhost:${port}/legacy/library/app:1.0`
    expect(file.tags[key]).toMatchObject({ sequence: 2, digest: d2 })
    file.tags[`LOCALHOST:${port}/legacy/library/app:1.0`] = file.tags[key]
    delete file.tags[key]
    await writeFile(recordFile, JSON.stringify(file))
    const refused = await importBundle(testContext({ client }), v1, {
      to: `localhost:${port}/legacy`,
      publicKey,
    }).catch((e: unknown) => e)
    expect(isFerryError(refused, 'POLICY_VIOLATION'), String(refused)).toBe(true)
    expect(await tagAt('legacy/library/app', '1.0')).toBe(d2)
  })

  it('orders by created when the bundles carry no sequence (a layout destination)', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'acme/web' })
    const older = await pushSyntheticImage(
      repo,
      { seed: 'rollback/web1', layers: 1, layerSize: 5000 },
      'stable',
    )
    const early = join(tmp.dir, 'web-early.tar')
    const spec = specFromImages([`${reg.host}/acme/web:stable`], { name: 'web', version: '0' })
    await createBundle(testContext({ client }), spec, {
      output: early,
      signingKey,
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    })
    const newer = await pushSyntheticImage(
      repo,
      { seed: 'rollback/web2', layers: 1, layerSize: 5000 },
      'stable',
    )
    const late = join(tmp.dir, 'web-late.tar')
    await createBundle(testContext({ client }), spec, {
      output: late,
      signingKey,
      env: { SOURCE_DATE_EPOCH: '1800000000' },
    })
    expect((await readBundleMetadata(late)).metadata.sequence).toBeUndefined()

    const dir = join(tmp.dir, 'site')
    const imported = await importBundle(testContext(), late, { to: `oci:${dir}`, publicKey })
    expect([imported.sequence, imported.created]).toEqual([undefined, LATER])
    const refused = await importBundle(testContext(), early, { to: `oci:${dir}`, publicKey }).catch(
      (e: unknown) => e,
    )
    expect(isFerryError(refused, 'POLICY_VIOLATION')).toBe(true)
    expect((refused as Error).message).toBe(
      `oci:${dir}:acme/web:stable: bundle web 0 (created ${CREATED}) is older than bundle web 0 (created ${LATER}), which set the tag to ${newer.digest}; refusing to move it back to ${older.digest} (--allow-downgrade imports it anyway)`,
    )
    const layout = await OciLayout.open(dir)
    expect((await layout.target('acme/web').resolve('stable')).digest).toBe(newer.digest)
    expect((await importBundle(testContext(), late, { to: `oci:${dir}`, publicKey })).downgraded).toEqual([])
  })

  it('orders by sequence within one bundle name only, else by created', () => {
    const at = (name: string, created: string, sequence?: number) => ({
      name,
      version: '1',
      created,
      sequence,
    })
    expect(isOlder(at('app', LATER, 1), at('app', CREATED, 2))).toBe(true)
    expect(isOlder(at('app', CREATED, 2), at('app', LATER, 1))).toBe(false)
    expect(isOlder(at('app', CREATED, 3), at('app', LATER, 3))).toBe(true)
    expect(isOlder(at('web', LATER, 1), at('app', CREATED, 2))).toBe(false)
    expect(isOlder(at('app', CREATED), at('app', LATER, 2))).toBe(true)
    expect(isOlder(at('app', CREATED, 1), at('app', CREATED, 1))).toBe(false)
    expect(isOlder(at('app', 'not a time', 9), at('web', CREATED))).toBe(true)
  })

  it('ferry bundle import: exit 7 naming --allow-downgrade, then the flag and --json list the tag', async () => {
    const to = `${dest.host}/cli`
    expect((await ferry('bundle/import', v2, '--to', to, '--key', keyFile)).code).toBe(0)
    const refused = await ferry('bundle/import', v1, '--to', to, '--key', keyFile)
    expect(refused.code).toBe(7)
    expect(refused.stderr).toContain(
      `${dest.host}/cli/library/app:1.0: bundle app 1 (sequence 1, created ${CREATED}) is older than bundle app 2 (sequence 2, created ${CREATED}), which set the tag to ${d2}; refusing to move it back to ${d1} (--allow-downgrade imports it anyway)`,
    )
    expect(await tagAt('cli/library/app', '1.0')).toBe(d2)
    const forced = await ferry(
      'bundle/import',
      v1,
      '--to',
      to,
      '--key',
      keyFile,
      '--allow-downgrade',
      '--json',
    )
    expect(forced.code).toBe(0)
    const out = JSON.parse(forced.stdout)
    expect([out.sequence, out.created, out.downgraded]).toEqual([
      1,
      CREATED,
      [
        {
          destination: `${dest.host}/cli/library/app:1.0`,
          from: d2,
          to: d1,
          previous: { name: 'app', version: '2', sequence: 2, created: CREATED },
        },
      ],
    ])
    expect(await tagAt('cli/library/app', '1.0')).toBe(d1)
    // Forward again, then back in text form: the note names the tag, both digests and the bundle it held.
    expect((await ferry('bundle/import', v2, '--to', to, '--key', keyFile)).code).toBe(0)
    const text = await ferry('bundle/import', v1, '--to', to, '--key', keyFile, '--allow-downgrade')
    expect(text.code).toBe(0)
    expect(text.stderr).toContain(
      `downgraded ${dest.host}/cli/library/app:1.0: ${d2} → ${d1} (it held bundle app 2 (sequence 2, created ${CREATED}); --allow-downgrade)`,
    )
    expect(await tagAt('cli/library/app', '1.0')).toBe(d1)

    const ls = await ferry('bundle/ls', v1)
    expect(ls.stdout.split('\n')[0]).toMatch(
      new RegExp(`^app 1  sequence 1  created ${CREATED}  signature not checked`),
    )
    const verify = await ferry('bundle/verify', v1)
    expect([verify.code, verify.stdout.split('\n')[0]]).toEqual([
      0,
      `Verified: ${v1} — app 1 (sequence 1, created ${CREATED}), signed, signature not checked (no --key)`,
    ])
    // Seven CLI runs: 3-6 s each on a loaded 2-core machine.
  }, 120_000)
})
