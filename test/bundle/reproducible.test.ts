import { sign } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { listBundle } from '../../src/bundle/list.js'
import { checkMetadataSignature, signMetadata } from '../../src/bundle/signature.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { RegistryClient } from '../../src/registry/index.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/index.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { PLATFORMS, readEntries, sha256File, tempDir } from './helpers.js'

describe('bundle create is reproducible without SOURCE_DATE_EPOCH', () => {
  let reg: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let images: string[]

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient()
    tmp = await tempDir('reproducible')
    // The index's children were built earlier than the single image; nanoseconds as Docker writes them.
    await pushSyntheticIndex(
      client.repository({ registry: reg.host, repository: 'app' }),
      { seed: 'repro/app', layers: 1, layerSize: 10_000, created: '2025-03-01T10:00:00.123456789Z' },
      PLATFORMS,
      '1.0',
    )
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'cli' }),
      { seed: 'repro/cli', layers: 1, layerSize: 10_000, created: '2025-06-01T12:30:45.5Z' },
      '2',
    )
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'timeless' }),
      { seed: 'repro/timeless', layers: 1, layerSize: 10_000, created: '' },
      '1',
    )
    images = [`${reg.host}/app:1.0`, `${reg.host}/cli:2`]
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
    await tmp?.cleanup()
  })

  const pair = generateKeyPair('repro-test')
  const signingKey = decryptPrivateKey(pair.privateKeyPem, 'repro-test')
  const publicKey = readPublicKey(pair.publicKeyPem)

  const create = (name: string, refs: string[], env: NodeJS.ProcessEnv, signed = false) =>
    createBundle(testContext({ client }), specFromImages(refs, { name: 'site', version: '1' }), {
      output: join(tmp.dir, name),
      env,
      ...(signed ? { signingKey } : {}),
    })

  /** Every entry's mtime in the tar, distinct values only. */
  const mtimes = async (name: string) => [
    ...new Set((await readEntries(join(tmp.dir, name))).map((e) => e.header.mtime!.toISOString())),
  ]

  it('makes the same bytes twice, seconds apart, with the newest image time as created and mtime', async () => {
    const first = await create('first.tar', images, {})
    // Whole seconds apart: a clock anywhere in the output would show.
    await sleep(1_100)
    const second = await create('second.tar', images, {})
    expect(second.sha256).toBe(first.sha256)
    expect(await sha256File(join(tmp.dir, 'second.tar'))).toBe(await sha256File(join(tmp.dir, 'first.tar')))
    expect(first.created).toBe('2025-06-01T12:30:45Z')
    expect((await listBundle(join(tmp.dir, 'first.tar'))).created).toBe('2025-06-01T12:30:45Z')
    expect(await mtimes('first.tar')).toEqual(['2025-06-01T12:30:45.000Z'])
  })

  it('makes the same bytes twice when signed with a key file: the signature is deterministic (RFC 6979)', async () => {
    const first = await create('signed-1.tar', images, {}, true)
    await sleep(1_100)
    const second = await create('signed-2.tar', images, {}, true)
    expect(first.signed).toBe(true)
    expect(second.sha256).toBe(first.sha256)
    expect(await sha256File(join(tmp.dir, 'signed-2.tar'))).toBe(
      await sha256File(join(tmp.dir, 'signed-1.tar')),
    )
    const entries = await readEntries(join(tmp.dir, 'signed-1.tar'))
    const body = (name: string) => entries.find((e) => e.header.name === name)!.body!
    const metadata = body('ferry-bundle.json')
    expect(checkMetadataSignature('signed-1.tar', metadata, body('ferry-bundle.json.sig'), publicKey)).toBe(
      'verified',
    )
  })

  it('still verifies a randomised signature, as ferry wrote them before signatures were deterministic', async () => {
    const metadata = Buffer.from('{"a":1}')
    // Node's ECDSA picks a random nonce: two signatures of the same bytes differ, and both verify.
    const old = () => Buffer.from(sign('sha256', metadata, signingKey).toString('base64'), 'ascii')
    const [a, b] = [old(), old()]
    expect(a.equals(b)).toBe(false)
    expect(checkMetadataSignature('old.tar', metadata, a, publicKey)).toBe('verified')
    expect(checkMetadataSignature('old.tar', metadata, b, publicKey)).toBe('verified')
    // And today's signer gives one signature for the same bytes, which verifies the same way.
    const [c, d] = [await signMetadata(metadata, signingKey), await signMetadata(metadata, signingKey)]
    expect(c.equals(d)).toBe(true)
    expect(checkMetadataSignature('new.tar', metadata, c, publicKey)).toBe('verified')
  })

  it('takes SOURCE_DATE_EPOCH over the content when set', async () => {
    const made = await create('epoch.tar', images, { SOURCE_DATE_EPOCH: '1700000000' })
    expect(made.created).toBe('2023-11-14T22:13:20Z')
    expect((await listBundle(join(tmp.dir, 'epoch.tar'))).created).toBe('2023-11-14T22:13:20Z')
    expect(await mtimes('epoch.tar')).toEqual(['2023-11-14T22:13:20.000Z'])
  })

  it('falls back to the epoch when the images carry no time', async () => {
    const made = await create('timeless.tar', [`${reg.host}/timeless:1`], {})
    expect(made.created).toBe('1970-01-01T00:00:00Z')
    expect(await mtimes('timeless.tar')).toEqual(['1970-01-01T00:00:00.000Z'])
  })
})
