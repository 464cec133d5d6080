import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login, RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { indexOf, pushImage, putManifest, readAll, syntheticImage } from '../helpers/registry-fixtures.js'

const run = promisify(execFile)

describe('interoperability with skopeo', () => {
  let reg: Distribution
  let configDir: string
  const amd = syntheticImage({ layerSizes: [150_000, 10], platform: { os: 'linux', architecture: 'amd64' } })
  const arm = syntheticImage({ layerSizes: [20], platform: { os: 'linux', architecture: 'arm64' } })
  const index = indexOf([
    { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
    { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
  ])

  beforeAll(async () => {
    reg = await startDistribution({ htpasswd: `erin:${bcrypt.hashSync('erin-pass', 4)}\n` })
    configDir = await mkdtemp(join(tmpdir(), 'ferry-interop-'))
    const client = new RegistryClient({ dockerConfigDir: configDir })
    await login(client, reg.host, 'erin', 'erin-pass', { dockerConfigDir: configDir })
    await client.close()
  })
  afterAll(async () => {
    await reg?.stop()
    await rm(configDir, { recursive: true, force: true })
  })

  const skopeo = (...args: string[]) =>
    run('skopeo', [...args], { env: { ...process.env, REGISTRY_AUTH_FILE: join(configDir, 'config.json') } })

  it('skopeo reads what ferry pushed (chunked blobs, an index) with the credentials ferry stored', async () => {
    const client = new RegistryClient({ dockerConfigDir: configDir, chunkSize: 64 * 1024 })
    try {
      const repo = client.repository({ registry: reg.host, repository: 'interop/src' })
      await pushImage(repo, amd)
      await pushImage(repo, arm)
      await putManifest(repo, index, 'v1')
    } finally {
      await client.close()
    }
    const { stdout } = await skopeo(
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${reg.host}/interop/src:v1`,
    )
    expect(Buffer.from(stdout)).toEqual(Buffer.from(index.bytes))
    await skopeo(
      'copy',
      '--all',
      '--preserve-digests',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${reg.host}/interop/src:v1`,
      `docker://${reg.host}/interop/copied:v1`,
    )
  })

  it('ferry reads what skopeo copied, byte for byte', async () => {
    const client = new RegistryClient({ dockerConfigDir: configDir })
    try {
      const repo = client.repository({ registry: reg.host, repository: 'interop/copied' })
      const got = await repo.fetchManifest('v1')
      expect(got.digest).toBe(index.digest)
      const child = await repo.fetchManifest(amd.manifest.digest)
      expect(child.digest).toBe(amd.manifest.digest)
      expect(await readAll(await repo.fetchBlob(amd.layers[0]!.desc))).toEqual(amd.layers[0]!.bytes)
      expect(await repo.listTags()).toEqual(['v1'])
    } finally {
      await client.close()
    }
    // And the credentials file ferry wrote is docker's format, which skopeo just used.
    const cfg = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8'))
    expect(Object.keys(cfg.auths)).toEqual([reg.host])
  })
})
