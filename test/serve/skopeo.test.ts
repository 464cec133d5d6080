import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { type Served, serveTemp, sha256 } from './helpers.js'

const run = promisify(execFile)
const skopeo = async (...args: string[]) =>
  (await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 })).stdout

describe('ferry serve with skopeo', () => {
  let served: Served
  let index: Manifest
  let src: string

  beforeAll(async () => {
    served = await serveTemp()
    src = join(served.dir, 'src')
    const target = await openLayoutTarget(src, { create: true })
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]
    index = await pushSyntheticIndex(
      target,
      { seed: 'serve', layers: 2, layerSize: 300_000 },
      platforms,
      '1.0',
    )
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('takes a multi-arch push and gives back the same digests', async () => {
    const ref = `docker://${served.server.host}/a/b:1.0`
    // The synthetic layers are uncompressed tars; skopeo would gzip them (new digests) unless told not to.
    await skopeo('copy', '--all', '--preserve-digests', '--dest-tls-verify=false', `oci:${src}:1.0`, ref)

    const remote = await skopeo('inspect', '--raw', '--tls-verify=false', ref)
    expect(sha256(remote)).toBe(index.digest)

    const out = join(served.dir, 'out')
    await skopeo(
      'copy',
      '--all',
      '--preserve-digests',
      '--dest-oci-accept-uncompressed-layers',
      '--src-tls-verify=false',
      ref,
      `oci:${out}:1.0`,
    )
    const copied = await skopeo('inspect', '--raw', `oci:${out}:1.0`)
    expect(sha256(copied)).toBe(index.digest)

    // Every child resolves by digest too, and the per-platform config reads back.
    const arm = await skopeo('inspect', '--tls-verify=false', '--override-arch', 'arm64', ref)
    expect(JSON.parse(arm)).toMatchObject({ Architecture: 'arm64', Os: 'linux' })
    const tags = JSON.parse(
      await skopeo('list-tags', '--tls-verify=false', `docker://${served.server.host}/a/b`),
    )
    expect(tags.Tags).toEqual(['1.0'])

    // The root is itself a layout skopeo reads, the repository a prefix of the ref.name.
    const stored = await skopeo('inspect', '--raw', `oci:${served.root}:a/b:1.0`)
    expect(sha256(stored)).toBe(index.digest)
  })
})
