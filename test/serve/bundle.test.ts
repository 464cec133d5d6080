import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { appendFile, copyFile, open, readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { BundleReader } from '../../src/bundle/reader.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { isFerryError } from '../../src/errors.js'
import type { Logger } from '../../src/log.js'
import { parseManifest } from '../../src/oci/manifest.js'
import type { Descriptor } from '../../src/oci/schemas.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/index.js'
import { pushSourceImages, type SourceImages, tempDir } from '../bundle/helpers.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { raw, sha256 } from './helpers.js'

const run = promisify(execFile)
const skopeo = async (...args: string[]) =>
  (await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 })).stdout

/** `skopeo copy --all` from the server into a fresh layout; the synthetic layers stay uncompressed. */
async function skopeoPull(server: RunningServer, ref: string, out: string): Promise<void> {
  await skopeo(
    'copy',
    '--all',
    '--preserve-digests',
    '--dest-oci-accept-uncompressed-layers',
    '--src-tls-verify=false',
    `docker://${server.host}/${ref}`,
    `oci:${out}:pulled`,
  )
}

const layoutBlobs = async (dir: string) =>
  (await readdir(join(dir, 'blobs/sha256'))).map((h) => `sha256:${h}`)

/** A warnings-only logger whose lines the test can read. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, debug() {}, warn: (m) => void warnings.push(m) }
}

describe('ferry serve --bundle', () => {
  let reg: Distribution
  let sourceStopped = false
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let images: SourceImages
  /** Signed, in one file. */
  let bundle: string
  /** The same images, unsigned, split into parts. */
  let split: string
  let served: RunningServer
  /** Repository names on the server: the source registry's `HOST:PORT` is written `HOST_PORT`. */
  let app: string
  let cli: string
  let layer: Descriptor
  const pair = generateKeyPair('serve-bundle')
  const signingKey = decryptPrivateKey(pair.privateKeyPem, 'serve-bundle')
  const publicKey = readPublicKey(pair.publicKeyPem)
  const otherKey = readPublicKey(generateKeyPair('other').publicKeyPem)

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient()
    tmp = await tempDir('serve')
    images = await pushSourceImages(client, reg.host, 'serve-bundle')
    const spec = specFromImages([images.app, images.cli], { name: 'site', version: '1' })
    const env = { SOURCE_DATE_EPOCH: '1700000000' }
    bundle = join(tmp.dir, 'site.tar')
    split = join(tmp.dir, 'split.tar')
    await createBundle(testContext({ client }), spec, { output: bundle, signingKey, env })
    await createBundle(testContext({ client }), spec, { output: split, splitSize: 64 * 1024, env })
    // Everything below is served from the bundle files alone.
    await reg.stop()
    sourceStopped = true
    const alias = reg.host.replace(':', '_')
    app = `${alias}/library/app`
    cli = `${alias}/tools/cli`
    if (images.image.kind !== 'image') throw new Error('expected a single-platform image')
    layer = images.image.image.layers[0]!
    served = await startServer({ bundle, port: 0, publicKey })
  })
  afterAll(async () => {
    await served?.close()
    await client?.close()
    if (!sourceStopped) await reg?.stop()
    await tmp?.cleanup()
  })

  it('verifies before it listens and reports what it serves', () => {
    const b = served.bundle!
    expect(b).toMatchObject({ file: bundle, name: 'site', version: '1', signature: 'verified' })
    expect(b.repositories.map((r) => [r.name, r.source])).toEqual([
      [app, `${reg.host}/library/app`],
      [cli, `${reg.host}/tools/cli`],
    ])
    expect(b.repositories[0]!.tags).toContain('1.0')
  })

  it('is pulled by skopeo with every digest unchanged', async () => {
    const out = join(tmp.dir, 'pulled-app')
    await skopeoPull(served, `${app}:1.0`, out)
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: Descriptor[] }
    expect(index.manifests.map((m) => m.digest)).toEqual([images.index.digest])
    const copied = await layoutBlobs(out)
    if (images.index.kind !== 'index') throw new Error('expected an index')
    for (const child of images.index.index.manifests) {
      expect(copied).toContain(child.digest)
      const m = parseManifest(await readFile(join(out, 'blobs/sha256', child.digest.slice(7))))
      if (m.kind !== 'image') throw new Error('expected an image')
      for (const d of [m.image.config, ...m.image.layers]) expect(copied).toContain(d.digest)
    }
    expect(
      sha256(await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${served.host}/${cli}:2`)),
    ).toBe(images.image.digest)
  })

  it('answers ferry’s client: manifests, tags, catalog, referrers and ranged blobs', async () => {
    const repo = client.repository({ registry: served.host, repository: app })
    expect((await repo.fetchManifest('1.0')).digest).toBe(images.index.digest)
    expect((await repo.resolve('1.0')).digest).toBe(images.index.digest)
    expect(await repo.listTags()).toEqual(['1.0', `sha256-${images.index.digest.slice(7)}.sig`])
    expect(await client.catalog(served.host)).toEqual([app, cli])
    expect((await repo.referrers(images.index.digest)).map((d) => d.digest)).toContain(images.sbom.digest)
    expect((await repo.fetchManifest(images.signature.digest)).digest).toBe(images.signature.digest)

    const tools = client.repository({ registry: served.host, repository: cli })
    const whole = await buffer(await tools.fetchBlob(layer))
    expect(sha256(whole)).toBe(layer.digest)
    expect(await buffer(await tools.fetchBlobFrom(layer, 1000))).toEqual(whole.subarray(1000))
    const ranged = await raw(served, 'GET', `/v2/${cli}/blobs/${layer.digest}`, {
      headers: { Range: 'bytes=10-99' },
    })
    expect(ranged.status).toBe(206)
    expect(ranged.headers['content-range']).toBe(`bytes 10-99/${layer.size}`)
    expect(ranged.body).toEqual(whole.subarray(10, 100))

    // A manifest of another repository is not this one's, though the bundle holds it.
    const foreign = await raw(served, 'GET', `/v2/${cli}/manifests/${images.index.digest}`)
    expect([foreign.status, foreign.code()]).toEqual([404, 'MANIFEST_UNKNOWN'])
    const unknown = await raw(served, 'GET', `/v2/${app}/manifests/2.0`)
    expect([unknown.status, unknown.code()]).toEqual([404, 'MANIFEST_UNKNOWN'])
    const nameless = await raw(served, 'GET', '/v2/library/app/tags/list')
    expect([nameless.status, nameless.code()]).toEqual([404, 'NAME_UNKNOWN'])
  })

  it('refuses every push and delete with 405', async () => {
    const manifest = Buffer.from(images.image.bytes)
    const writes = [
      raw(served, 'PUT', `/v2/${cli}/manifests/3`, {
        body: manifest,
        headers: { 'Content-Type': images.image.mediaType },
      }),
      raw(served, 'POST', `/v2/${cli}/blobs/uploads/`),
      raw(served, 'POST', `/v2/${cli}/blobs/uploads/?mount=${layer.digest}&from=${app}`),
      raw(served, 'DELETE', `/v2/${cli}/manifests/2`),
      raw(served, 'DELETE', `/v2/${cli}/manifests/${images.image.digest}`),
      raw(served, 'DELETE', `/v2/${cli}/blobs/${layer.digest}`),
    ]
    for (const res of await Promise.all(writes))
      expect([res.status, res.code()]).toEqual([405, 'UNSUPPORTED'])
    const push = await client
      .repository({ registry: served.host, repository: `${cli}-copy` })
      .tag(images.image, '2')
      .catch((e: unknown) => e)
    expect(push).toBeInstanceOf(Error)
    expect(await client.repository({ registry: served.host, repository: cli }).listTags()).toEqual(['2'])
  })

  it('serves a split bundle across its part files', async () => {
    const server = await startServer({ bundle: `${split}.parts.json`, port: 0 })
    try {
      expect(server.bundle?.signature).toBe('unsigned')
      const tools = client.repository({ registry: server.host, repository: cli })
      const whole = await buffer(await tools.fetchBlob(layer))
      expect(sha256(whole)).toBe(layer.digest)
      // 64 KiB parts: these ranges cross part boundaries.
      expect(await buffer(await tools.fetchBlobFrom(layer, 5000))).toEqual(whole.subarray(5000))
      const ranged = await raw(server, 'GET', `/v2/${cli}/blobs/${layer.digest}`, {
        headers: { Range: 'bytes=60000-70000' },
      })
      expect([ranged.status, ranged.body.equals(whole.subarray(60000, 70001))]).toEqual([206, true])
      const out = join(tmp.dir, 'pulled-split')
      await skopeoPull(server, `${app}:1.0`, out)
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: Descriptor[] }
      expect(index.manifests[0]!.digest).toBe(images.index.digest)
    } finally {
      await server.close()
    }
  })

  it('refuses to start on a bundle with one byte flipped in a blob', async () => {
    const reader = await BundleReader.open(bundle)
    const at = reader.location(layer.digest)!.offset + 100
    await reader.close()
    const bytes = await readFile(bundle)
    bytes[at] = bytes[at]! ^ 0x01
    const tampered = join(tmp.dir, 'tampered.tar')
    await writeFile(tampered, bytes)
    const err = await startServer({ bundle: tampered, port: 0 }).catch((e: unknown) => e)
    expect(isFerryError(err, 'DIGEST_MISMATCH')).toBe(true)
    expect((err as Error).message).toMatch(new RegExp(`blob ${layer.digest} is corrupt`))
  })

  it('starts with the signing key only', async () => {
    const wrong = await startServer({ bundle, port: 0, publicKey: otherKey }).catch((e: unknown) => e)
    expect(isFerryError(wrong, 'VERIFY_FAILED')).toBe(true)
    expect((wrong as Error).message).toMatch(/ferry-bundle\.json\.sig does not verify/)
    const unsigned = await startServer({ bundle: split, port: 0, publicKey }).catch((e: unknown) => e)
    expect((unsigned as Error).message).toMatch(/not signed/)
    await expect(startServer({ bundle, root: tmp.dir, port: 0 })).rejects.toThrow(/exactly one/)
  })

  it('stops serving a bundle file that changed after the pass', async () => {
    const path = join(tmp.dir, 'changing.tar')
    await copyFile(bundle, path)
    // A fixed mtime, so the test can put it back exactly after writing.
    await utimes(path, 1_700_000_000, 1_700_000_000)
    const logger = recordingLogger()
    const server = await startServer({ bundle: path, port: 0, logger })
    try {
      const reader = await BundleReader.open(path)
      const at = reader.location(layer.digest)!.offset + layer.size - 1
      await reader.close()
      const file = await open(path, 'r+')
      await file.write(Buffer.from([0x5a]), 0, 1, at)
      await file.close()
      await utimes(path, 1_700_000_000, 1_700_000_000)

      // Same inode, size and mtime: a ranged read cannot tell, a whole one is hashed and cut off.
      const url = `${server.url}/v2/${cli}/blobs/${layer.digest}`
      const head = await fetch(url, { headers: { Range: 'bytes=0-99' } })
      expect(head.status).toBe(206)
      await head.arrayBuffer()
      await expect(fetch(url).then((r) => r.arrayBuffer())).rejects.toThrow()
      expect(logger.warnings.join('\n')).toMatch(new RegExp(`${layer.digest}.*no longer match `))

      await appendFile(path, Buffer.alloc(512))
      const res = await raw(server, 'GET', `/v2/${cli}/manifests/2`)
      expect([res.status, res.code()]).toEqual([503, 'UNAVAILABLE'])
      // The operator learns why from the log; the client is not told where the bundle lies.
      expect(res.body.toString()).not.toContain(path)
      expect(logger.warnings.join('\n')).toMatch(/changed since it was verified/)
    } finally {
      await server.close()
    }
  })

  describe('command', () => {
    let child: ChildProcess | undefined
    afterAll(() => {
      if (child?.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL')
    })

    it('prints the repositories to pull and stops on SIGTERM', async () => {
      const repoRoot = resolve(import.meta.dirname, '../..')
      const keyFile = join(tmp.dir, 'release.pub')
      await writeFile(keyFile, pair.publicKeyPem)
      const entry = `import Serve from ${JSON.stringify(join(repoRoot, 'commands/serve.ts'))}
await Serve.run(process.argv.slice(1), ${JSON.stringify(repoRoot)})`
      const args = ['--bundle', bundle, '--key', keyFile, '--port', '0']
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', entry, '--', ...args],
        {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      child = proc
      let stderr = ''
      const host = await new Promise<string>((ok, fail) => {
        proc.stderr!.on('data', (d) => {
          stderr += d
          const m = /listening on http:\/\/(127\.0\.0\.1:\d+) \(bundle .*\n(?:.*\n){2}/.exec(stderr)
          if (m) ok(m[1]!)
        })
        proc.once('exit', (code) => fail(new Error(`exited ${code}: ${stderr}`)))
      })
      expect(stderr).toContain(
        `(bundle ${bundle}: site 1, every blob verified, signature verified, read-only)`,
      )
      expect(stderr).toContain(`  ${host}/${app}  tags: 1.0\n`)
      expect(stderr).toContain(`  ${host}/${cli}  tags: 2\n`)
      const res = await fetch(`http://${host}/v2/_catalog`)
      expect(await res.json()).toEqual({ repositories: [app, cli] })
      const exited = new Promise<number | null>((ok) => proc.once('exit', ok))
      proc.kill('SIGTERM')
      expect(await exited).toBe(0)
    }, 60_000)
  })
})
