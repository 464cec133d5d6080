import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry, type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { selfSignedCert } from '../helpers/self-signed.js'

const run = promisify(execFile)
const sha256 = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`

/**
 * Loopback registries that speak TLS (a port-forward, `ferry serve --tls-cert`) next to plain ones
 * (the distribution registry): ferry asks the port which it speaks, trusts --ca-file, and takes an
 * explicit https:// or --plain-http.
 */
describe('TLS registries on loopback', { timeout: 120_000 }, () => {
  let dir: string
  let layout: string
  let cert: string
  let index: Manifest
  let tls: ServeProcess
  let plain: Distribution

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-tls-cli-'))
    cert = join(dir, 'cert.pem')
    selfSignedCert(dir, { cn: '127.0.0.1', ip: '127.0.0.1' })
    layout = join(dir, 'layout')
    const target = await openLayoutTarget(layout, { create: true })
    index = await pushSyntheticIndex(
      target,
      { seed: 'tls-cli', layers: 1, layerSize: 5_000 },
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      '1.0',
    )
    await target.close()
    ;[tls, plain] = await Promise.all([
      startFerryServe(['--root', join(dir, 'served'), '--tls-cert', cert, '--tls-key', join(dir, 'key.pem')]),
      startDistribution(),
    ])
  })
  afterAll(async () => {
    await Promise.all([tls?.stop(), plain?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  it('copies into a TLS loopback registry with --ca-file; catalog and skopeo see the same image', async () => {
    const copy = await ferry([
      'copy',
      `oci:${layout}:1.0`,
      `${tls.host}/tls/app:1.0`,
      '--ca-file',
      cert,
      '--json',
    ])
    expect(copy.code).toBe(0)
    expect(JSON.parse(copy.stdout).destination.digest).toBe(index.digest)
    const catalog = await ferry(['catalog', tls.host, '--ca-file', cert, '--json'])
    expect(catalog.code).toBe(0)
    expect(JSON.parse(catalog.stdout).repositories).toEqual(['tls/app'])
    const certDir = join(dir, 'skopeo-certs')
    await mkdir(certDir, { recursive: true })
    await copyFile(cert, join(certDir, 'ca.crt'))
    const raw = await run('skopeo', [
      'inspect',
      '--raw',
      '--cert-dir',
      certDir,
      `docker://${tls.host}/tls/app:1.0`,
    ])
    expect(sha256(raw.stdout)).toBe(index.digest)
  })

  it('without the CA fails in one line naming the host and the TLS problem', async () => {
    const r = await ferry(['catalog', tls.host])
    expect(r.code).toBe(6)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`ferry: ${tls.host}: TLS: `)
    expect(r.stderr).toContain('self-signed certificate')
    expect(r.stderr).toContain('--ca-file')
    expect(r.stderr).not.toContain('UND_ERR_SOCKET')
  })

  it('takes https:// and http:// in front of a registry argument', async () => {
    const catalog = await ferry(['catalog', `https://${tls.host}/`, '--ca-file', cert, '--json'])
    expect(catalog.code).toBe(0)
    expect(JSON.parse(catalog.stdout).repositories).toEqual(['tls/app'])
    const tags = await ferry(['tags', `https://${tls.host}/tls/app`, '--ca-file', cert, '--json'])
    expect(JSON.parse(tags.stdout).tags).toEqual(['1.0'])
    const digest = await ferry(['digest', `https://${tls.host}/tls/app:1.0`, '--ca-file', cert])
    expect(digest.stdout.trim()).toBe(index.digest)
    const wrong = await ferry(['catalog', `http://${tls.host}`])
    expect(wrong.code).toBe(6)
    expect(wrong.stderr).toBe(
      `ferry: ${tls.host}: speaks TLS, but plain HTTP was asked for (--plain-http, --insecure-registry or http://): leave those out, or write https://\n`,
    )
    const junk = await ferry(['tags', `https://${tls.host}/v2/tls/app?n=1`])
    expect(junk.code).toBe(2)
  })

  it('--plain-http against the TLS server says it speaks TLS', async () => {
    const r = await ferry(['catalog', tls.host, '--plain-http', '--ca-file', cert])
    expect(r.code).toBe(6)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`${tls.host}: speaks TLS, but plain HTTP was asked for`)
    expect(r.stderr).not.toContain('UND_ERR_SOCKET')
  })

  it('plain loopback registries need no flag, also next to a TLS one in the same copy', async () => {
    const alone = await ferry(['copy', `oci:${layout}:1.0`, `${plain.host}/plain/app:1.0`, '--json'])
    expect(alone.code).toBe(0)
    expect(JSON.parse(alone.stdout).destination.digest).toBe(index.digest)
    const across = await ferry([
      'copy',
      `${tls.host}/tls/app:1.0`,
      `${plain.host}/across/app:1.0`,
      '--ca-file',
      cert,
      '--json',
    ])
    expect(across.code).toBe(0)
    expect(JSON.parse(across.stdout).destination.digest).toBe(index.digest)
    const catalog = await ferry(['catalog', plain.host, '--plain-http', '--json'])
    expect(JSON.parse(catalog.stdout).repositories).toEqual(['across/app', 'plain/app'])
  })
})
