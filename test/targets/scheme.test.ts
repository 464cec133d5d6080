import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { parseReference, parseRegistryReference } from '../../src/reference/index.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { openTarget } from '../../src/targets/open.js'
import { testContext } from '../helpers/context.js'
import { selfSignedCert } from '../helpers/self-signed.js'

/**
 * `https://REGISTRY/REPO…` in the library: the scheme is part of the parsed reference and travels with
 * it to the client (before, only the CLI knew the form and the library refused it, REFERENCE_INVALID).
 * `plainHttp` would send everything else over plain HTTP to this TLS server; the spelled scheme wins.
 */
describe('https:// and http:// references in the library', { timeout: 60_000 }, () => {
  let dir: string
  let cert: string
  let tls: RunningServer
  let image: Manifest

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-scheme-'))
    const files = selfSignedCert(dir, { cn: '127.0.0.1', ip: '127.0.0.1' })
    cert = files.certFile
    tls = await startServer({ root: join(dir, 'served'), port: 0, tls: { cert, key: files.keyFile } })
    const layout = await openLayoutTarget(join(dir, 'layout'), { create: true })
    image = await pushSyntheticImage(layout, { seed: 'scheme', layers: 1, layerSize: 3000 }, '1.0')
    await layout.close()
  })
  afterAll(async () => {
    await tls?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('parses https://localhost:5000/a/b:1', () => {
    expect(parseReference('https://localhost:5000/a/b:1')).toEqual({
      kind: 'registry',
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: '1',
      scheme: 'https',
    })
  })

  it('copies to and reads from https://HOST/REPO with plainHttp set for every other registry', async () => {
    const opts = { plainHttp: true, caFiles: [cert] }
    const result = await copyReference(
      testContext(opts),
      `oci:${join(dir, 'layout')}:1.0`,
      `https://${tls.host}/lib/app:1.0`,
    )
    expect(result.destination.digest).toBe(image.digest)
    const { target, reference } = await openTarget(testContext(opts), `https://${tls.host}/lib/app:1.0`)
    try {
      expect((await target.resolve(reference)).digest).toBe(image.digest)
    } finally {
      await target.close()
    }
    // Without the scheme, plainHttp reaches the TLS port over plain HTTP, and says so.
    const plain = await openTarget(testContext(opts), `${tls.host}/lib/app:1.0`)
    try {
      const err = await plain.target.resolve(plain.reference).catch((e: unknown) => e)
      expect(isFerryError(err, 'NETWORK')).toBe(true)
      expect((err as Error).message).toContain('speaks TLS, but plain HTTP was asked for')
    } finally {
      await plain.target.close()
    }
  })

  it('refuses one host written both https:// and http:// in one client', async () => {
    const client = new RegistryClient()
    try {
      client.repository(parseRegistryReference(`https://${tls.host}/lib/app`))
      client.repository(parseRegistryReference(`${tls.host}/lib/other`))
      expect(() => client.repository(parseRegistryReference(`http://${tls.host}/lib/app`))).toThrow(
        expect.objectContaining({
          code: 'USAGE',
          message: `${tls.host} is written both https:// and http://`,
        }),
      )
    } finally {
      await client.close()
    }
  })
})
