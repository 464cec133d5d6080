import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { raw, sha256 } from './helpers.js'

const run = promisify(execFile)
const skopeo = async (...args: string[]) =>
  (await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 })).stdout

describe('serve: tags without a repository (skopeo oci:DIR:TAG)', () => {
  let dir: string
  let root: string
  let index: Manifest

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-spec-'))
    const src = join(dir, 'src')
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]
    index = await pushSyntheticIndex(
      await openLayoutTarget(src, { create: true }),
      { seed: 'bare', layers: 2, layerSize: 50_000 },
      platforms,
      'src',
    )
    // The layout under test is written by skopeo itself, as a user would have it.
    root = join(dir, 'webapp')
    await skopeo('copy', '--all', '--preserve-digests', `oci:${src}:src`, `oci:${root}:1.0`)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function served<T>(repository: string | undefined, use: (s: RunningServer) => Promise<T>) {
    const server = await startServer({ root, port: 0, repository })
    try {
      return await use(server)
    } finally {
      await server.close()
    }
  }

  it('serves them as the directory base name, to skopeo and to ferry, with the same digests', async () => {
    await served(undefined, async (server) => {
      const catalog = (await raw(server, 'GET', '/v2/_catalog')).json()
      expect(catalog).toEqual({ repositories: ['webapp'] })
      expect((await raw(server, 'GET', '/v2/webapp/tags/list')).json()).toEqual({
        name: 'webapp',
        tags: ['1.0'],
      })
      const ref = `docker://${server.host}/webapp:1.0`
      expect(sha256(await skopeo('inspect', '--raw', '--tls-verify=false', ref))).toBe(index.digest)
      const bySkopeo = join(dir, 'by-skopeo')
      await skopeo(
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-oci-accept-uncompressed-layers',
        '--src-tls-verify=false',
        ref,
        `oci:${bySkopeo}:1.0`,
      )
      expect(sha256(await skopeo('inspect', '--raw', `oci:${bySkopeo}:1.0`))).toBe(index.digest)

      const byFerry = join(dir, 'by-ferry')
      const pulled = await ferry(['copy', `${server.host}/webapp:1.0`, `oci:${byFerry}:1.0`])
      expect(pulled.code).toBe(0)
      expect(pulled.stderr).toContain('copied 6 blobs')
      expect(sha256(await skopeo('inspect', '--raw', `oci:${byFerry}:1.0`))).toBe(index.digest)
    })
  })

  it('serves them under --repository instead, and nothing under the base name', async () => {
    await served('team/other', async (server) => {
      expect((await raw(server, 'GET', '/v2/_catalog')).json()).toEqual({ repositories: ['team/other'] })
      const ref = `docker://${server.host}/team/other:1.0`
      expect(sha256(await skopeo('inspect', '--raw', '--tls-verify=false', ref))).toBe(index.digest)
      const child = index.kind === 'index' ? index.index.manifests[1]!.digest : ''
      expect((await raw(server, 'GET', `/v2/team/other/manifests/${child}`)).status).toBe(200)
      const old = await raw(server, 'GET', '/v2/webapp/manifests/1.0')
      expect(old.status).toBe(404)
      expect(old.code()).toBe('NAME_UNKNOWN')
    })
  })

  it('refuses an invalid --repository before listening', async () => {
    await expect(startServer({ root, port: 0, repository: 'Upper/Case' })).rejects.toThrow(
      'invalid --repository "Upper/Case"',
    )
  })

  it('documents --repository in serve --help', async () => {
    const help = await ferry(['serve', '--help'])
    expect(help.stdout).toContain('--repository=<value>')
    expect(help.stdout).toContain('serve --root ./app --repository team/app')
  })
})
