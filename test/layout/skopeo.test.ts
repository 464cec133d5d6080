import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isRefName, OciLayout, openLayoutTarget } from '../../src/layout/index.js'
import type { LayoutTarget } from '../../src/layout/target.js'
import { childrenOf, type Manifest } from '../../src/oci/manifest.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { indexOf, pushImage, putManifest, readAll, syntheticImage } from '../helpers/registry-fixtures.js'
import { useTempRoot } from './helpers/temp.js'

const run = promisify(execFile)
const tmp = useTempRoot()

// --insecure-policy: the signature policy is irrelevant to layout interop and may be absent on the host.
async function skopeo(...args: string[]): Promise<Buffer> {
  const { stdout } = await run('skopeo', ['--insecure-policy', ...args], {
    encoding: 'buffer',
    maxBuffer: 16 << 20,
  })
  return stdout
}

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** Reads a manifest and everything under it through ferry, which verifies every digest on the way. */
async function readGraph(target: LayoutTarget, reference: string): Promise<Manifest> {
  const m = await target.fetchManifest(reference)
  const { manifests, blobs } = childrenOf(m)
  for (const child of manifests) await readGraph(target, child.digest)
  for (const blob of blobs) expect((await readAll(await target.fetchBlob(blob))).length).toBe(blob.size)
  return m
}

describe('skopeo reads what ferry writes', () => {
  it('an image under oci:DIR:TAG, raw bytes and digest identical', async () => {
    const dir = tmp.path('ferry-image')
    const target = await openLayoutTarget(dir, { create: true })
    const image = syntheticImage({ gzip: true })
    await pushImage(target, image, '1.0')
    const raw = await skopeo('inspect', '--raw', `oci:${dir}:1.0`)
    expect(raw.equals(Buffer.from(image.manifest.bytes))).toBe(true)
    const inspected = JSON.parse((await skopeo('inspect', `oci:${dir}:1.0`)).toString())
    expect(inspected.Digest).toBe(image.manifest.digest)

    const copy = tmp.path('skopeo-copy')
    await skopeo('copy', '-q', `oci:${dir}:1.0`, `oci:${copy}:x`)
    const copied = (await OciLayout.open(copy)).target()
    expect((await copied.resolve('x')).digest).toBe(image.manifest.digest)
    expect((await readGraph(copied, 'x')).digest).toBe(image.manifest.digest)
  })

  it('repository views as oci:DIR:REPOSITORY:TAG, the target name plus the tag', async () => {
    const dir = tmp.path('ferry-repos')
    const layout = await OciLayout.open(dir, { create: true })
    const short = layout.target('library/postgres')
    const full = layout.target('docker.io/library/postgres')
    const a = syntheticImage({ gzip: true })
    const b = syntheticImage({ gzip: true })
    await pushImage(short, a, '16')
    await pushImage(full, b, '16')
    expect(sha256(await skopeo('inspect', '--raw', `${short.name}:16`))).toBe(a.manifest.digest)
    expect(sha256(await skopeo('inspect', '--raw', `${full.name}:16`))).toBe(b.manifest.digest)
  })

  it('refuses the ref.names ferry refuses to write without a repository', async () => {
    const dir = tmp.path('names')
    await OciLayout.open(dir, { create: true })
    for (const name of ['a b', 'x//y', '-x']) {
      expect(isRefName(name)).toBe(false)
      const failed = await skopeo('inspect', '--raw', `oci:${dir}:${name}`).catch(
        (e: { stderr: Buffer }) => e,
      )
      expect(String((failed as { stderr: Buffer }).stderr)).toContain(`Invalid image ${name}`)
    }
  })

  it('a multi-arch index, copied with --all', async () => {
    const dir = tmp.path('ferry-index')
    const target = await openLayoutTarget(dir, { create: true })
    const children = ['amd64', 'arm64', 's390x'].map((architecture) => {
      const platform = { os: 'linux', architecture }
      return { ...syntheticImage({ platform, gzip: true }), platform }
    })
    const index = indexOf(children)
    for (const child of children) await pushImage(target, child)
    await putManifest(target, index, 'multi')
    const raw = await skopeo('inspect', '--raw', `oci:${dir}:multi`)
    expect(raw.equals(Buffer.from(index.bytes))).toBe(true)

    const copy = tmp.path('skopeo-index')
    await skopeo('copy', '-q', '--all', `oci:${dir}:multi`, `oci:${copy}:2.0`)
    const copied = (await OciLayout.open(copy)).target()
    const read = await readGraph(copied, '2.0')
    expect(read.digest).toBe(index.digest)
    expect(read.kind).toBe('index')
    for (const child of children) expect(await copied.hasManifest(child.manifest.digest)).toBe(true)
  })
})

describe('ferry reads what skopeo writes', () => {
  it('a layout skopeo created, then shared by both', async () => {
    const src = tmp.path('src')
    const source = await openLayoutTarget(src, { create: true })
    const image = syntheticImage({ gzip: true })
    await pushImage(source, image, '1.0')
    const dst = tmp.path('dst')
    await skopeo('copy', '-q', `oci:${src}:1.0`, `oci:${dst}:2.0`)
    // skopeo's index.json has no mediaType; ferry reads it and adds one when it next writes.
    expect(JSON.parse(await readFile(join(dst, 'index.json'), 'utf8')).mediaType).toBeUndefined()
    const target = (await OciLayout.open(dst)).target()
    expect((await readGraph(target, '2.0')).digest).toBe(image.manifest.digest)

    const other = syntheticImage({ gzip: true })
    await pushImage(target, other, '3.0')
    expect(sha256(await skopeo('inspect', '--raw', `oci:${dst}:3.0`))).toBe(other.manifest.digest)
    expect(sha256(await skopeo('inspect', '--raw', `oci:${dst}:2.0`))).toBe(image.manifest.digest)
    expect(await target.listTags()).toEqual(['2.0', '3.0'])
  })

  it('skopeo writing into a multi-repository layout keeps the repositories tagged entries', async () => {
    const dir = tmp.path('shared')
    const layout = await OciLayout.open(dir, { create: true })
    const web = layout.target('acme/web')
    const tagged = syntheticImage({ gzip: true })
    const untagged = syntheticImage({ gzip: true })
    await pushImage(web, tagged, 'v1')
    await pushImage(web, untagged)
    const src = tmp.path('shared-src')
    await pushImage(await openLayoutTarget(src, { create: true }), untagged, '1.0')
    await skopeo('copy', '-q', `oci:${src}:1.0`, `oci:${dir}:x`)
    expect(await web.listTags()).toEqual(['v1'])
    expect(await layout.target().listTags()).toEqual(['x'])
    // skopeo 1.9 takes over an untagged entry with the digest it writes (it keeps one entry per digest
    // without ref.name); the manifest stays readable by digest, which reads the blob store.
    expect((await web.fetchManifest(untagged.manifest.digest)).digest).toBe(untagged.manifest.digest)
  })
})

describe('through a real registry', () => {
  let registry: Distribution
  beforeAll(async () => {
    registry = await startDistribution()
  })
  afterAll(async () => registry?.stop())

  it('ferry layout → skopeo → distribution → skopeo → layout ferry reads, digests unchanged', async () => {
    const src = tmp.path('reg-src')
    const source = await openLayoutTarget(src, { create: true })
    const image = syntheticImage({ gzip: true })
    const children = ['amd64', 'arm64'].map((architecture) => {
      const platform = { os: 'linux', architecture }
      return { ...syntheticImage({ platform, gzip: true }), platform }
    })
    const index = indexOf(children)
    await pushImage(source, image, '1.0')
    for (const child of children) await pushImage(source, child)
    await putManifest(source, index, 'multi')

    const repo = `${registry.host}/test/app`
    await skopeo('copy', '-q', '--dest-tls-verify=false', `oci:${src}:1.0`, `docker://${repo}:1.0`)
    await skopeo(
      'copy',
      '-q',
      '--all',
      '--dest-tls-verify=false',
      `oci:${src}:multi`,
      `docker://${repo}:multi`,
    )
    const remoteRaw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${repo}:multi`)
    expect(sha256(remoteRaw)).toBe(index.digest)

    const dst = tmp.path('reg-dst')
    await skopeo('copy', '-q', '--src-tls-verify=false', `docker://${repo}:1.0`, `oci:${dst}:test/app:1.0`)
    await skopeo(
      'copy',
      '-q',
      '--all',
      '--src-tls-verify=false',
      `docker://${repo}:multi`,
      `oci:${dst}:test/app:multi`,
    )
    const pulled = (await OciLayout.open(dst)).target('test/app')
    expect(await pulled.listTags()).toEqual(['1.0', 'multi'])
    expect((await readGraph(pulled, '1.0')).digest).toBe(image.manifest.digest)
    expect((await readGraph(pulled, 'multi')).digest).toBe(index.digest)
    expect(await pulled.layout.repositories()).toEqual(['test/app'])
  })
})
