import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { OciLayout, openLayoutTarget } from '../../../src/layout/index.js'
import { digestOf } from '../../../src/oci/digest.js'
import { blobOf, pushImage, readAll, syntheticImage } from '../../helpers/registry-fixtures.js'
import { useTempRoot } from '../../layout/helpers/temp.js'

const tmp = useTempRoot()

async function rejection(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(FerryError)
  return err as FerryError
}

/** Every file under `dir`, relative, sorted. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort()
}

describe('OciLayout: opening', () => {
  it('creates a layout per image-layout.md', async () => {
    const dir = tmp.path('new')
    const layout = await OciLayout.open(dir, { create: true })
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    })
    expect(JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'))).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [],
    })
    expect((await stat(join(dir, 'blobs'))).isDirectory()).toBe(true)
    expect(layout.dir).toBe(dir)
    // Opening again, with or without create, is fine and changes nothing.
    await OciLayout.open(dir, { create: true })
    await OciLayout.open(dir)
    expect(await files(dir)).toEqual(['index.json', 'oci-layout'])
  })

  it('refuses what is not a layout with LAYOUT_INVALID naming the path (NOT_FOUND when missing)', async () => {
    const missing = tmp.path('missing')
    const err = await rejection(OciLayout.open(missing))
    expect(err.code).toBe('NOT_FOUND')
    expect(err.message).toContain(missing)

    const plain = tmp.path('plain')
    await mkdir(plain)
    await writeFile(join(plain, 'notes.txt'), 'mine')
    expect((await rejection(OciLayout.open(plain))).message).toContain(`${plain}: not an OCI image layout`)
    // create never turns someone's folder into a layout.
    const refused = await rejection(OciLayout.open(plain, { create: true }))
    expect(refused.code).toBe('LAYOUT_INVALID')
    expect(await readdir(plain)).toEqual(['notes.txt'])

    const badHeader = tmp.path('bad-header')
    await mkdir(badHeader)
    await writeFile(join(badHeader, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}')
    await writeFile(join(badHeader, 'index.json'), '{"schemaVersion":2,"manifests":[]}')
    expect((await rejection(OciLayout.open(badHeader))).message).toContain(
      'unsupported imageLayoutVersion "2.0.0"',
    )

    const badIndex = tmp.path('bad-index')
    await OciLayout.open(badIndex, { create: true })
    await writeFile(
      join(badIndex, 'index.json'),
      '{"schemaVersion":2,"manifests":[{"digest":"sha256:../../x"}]}',
    )
    const indexErr = await rejection(OciLayout.open(badIndex))
    expect(indexErr.code).toBe('LAYOUT_INVALID')
    expect(indexErr.message).toContain(join(badIndex, 'index.json'))

    const notJson = tmp.path('not-json')
    await OciLayout.open(notJson, { create: true })
    await writeFile(join(notJson, 'index.json'), 'nope')
    expect((await rejection(OciLayout.open(notJson))).message).toContain('not valid JSON')
  })

  it('keeps unknown index.json fields and entry fields through updates', async () => {
    const dir = tmp.path('unknown')
    const layout = await OciLayout.open(dir, { create: true })
    const doc = {
      schemaVersion: 2,
      manifests: [],
      annotations: { 'org.example.note': 'x' },
      'x-vendor': { keep: true },
    }
    await writeFile(join(dir, 'index.json'), JSON.stringify(doc))
    const image = syntheticImage()
    await pushImage(layout.target(), image, '1.0')
    const after = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'))
    expect(after['x-vendor']).toEqual({ keep: true })
    expect(after.annotations).toEqual({ 'org.example.note': 'x' })
    expect(after.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    const { bytes, index } = await layout.readIndex()
    expect(JSON.parse(Buffer.from(bytes).toString())).toEqual(after)
    expect(index.manifests).toHaveLength(1)
  })

  it('leaves index.json alone when the update changes nothing', async () => {
    const dir = tmp.path('noop')
    const layout = await OciLayout.open(dir, { create: true })
    const before = await stat(join(dir, 'index.json'))
    await layout.updateIndex(() => undefined)
    expect((await stat(join(dir, 'index.json'))).ino).toBe(before.ino)
  })
})

describe('OciLayout: blobs', () => {
  it('writes through ingest/ and renames into blobs/ALG/HEX', async () => {
    const dir = tmp.path('blobs')
    const target = await openLayoutTarget(dir, { create: true })
    const blob = blobOf('hello layout', 'application/octet-stream')
    await target.pushBlob(blob.desc, Readable.from([blob.bytes]))
    const path = target.layout.blobPath(blob.desc.digest)
    expect(path).toBe(join(dir, 'blobs', 'sha256', blob.desc.digest.slice(7)))
    expect((await readFile(path)).equals(blob.bytes)).toBe(true)
    expect(await target.layout.hasBlob(blob.desc.digest)).toBe(true)
    expect(await target.hasBlob(blob.desc)).toBe(true)
    expect(await target.hasBlob({ ...blob.desc, size: 1 })).toBe(false)
    expect((await readAll(await target.fetchBlob(blob.desc))).equals(blob.bytes)).toBe(true)
    expect(await readdir(join(dir, 'ingest'))).toEqual([])
  })

  it('handles sha512 digests', async () => {
    const target = await openLayoutTarget(tmp.path('sha512'), { create: true })
    const bytes = Buffer.from('sha512 content')
    const desc = {
      mediaType: 'application/octet-stream',
      digest: digestOf(bytes, 'sha512'),
      size: bytes.length,
    }
    await target.pushBlob(desc, Readable.from([bytes]))
    expect(target.layout.blobPath(desc.digest)).toContain(join('blobs', 'sha512'))
    expect((await readAll(await target.fetchBlob(desc))).equals(bytes)).toBe(true)
  })

  it('does not rewrite a blob that is present, and stops the producer', async () => {
    const dir = tmp.path('present')
    const target = await openLayoutTarget(dir, { create: true })
    const blob = blobOf('already here', 'application/octet-stream')
    await target.pushBlob(blob.desc, Readable.from([blob.bytes]))
    const before = await stat(target.layout.blobPath(blob.desc.digest))
    const producer = new PassThrough()
    await target.pushBlob(blob.desc, producer)
    expect(producer.destroyed).toBe(true)
    expect((await stat(target.layout.blobPath(blob.desc.digest))).ino).toBe(before.ino)
  })

  it('two writers of the same blob at the same time both succeed', async () => {
    const dir = tmp.path('same-blob')
    const one = await openLayoutTarget(dir, { create: true })
    const two = (await OciLayout.open(dir)).target('other/repo')
    const blob = blobOf(Buffer.alloc(300_000, 3), 'application/octet-stream')
    const bodies = [new PassThrough(), new PassThrough()]
    const pushes = [one.pushBlob(blob.desc, bodies[0]!), two.pushBlob(blob.desc, bodies[1]!)]
    // Both temp files are open before either writer has its whole stream.
    const ingest = join(dir, 'ingest')
    const deadline = Date.now() + 5000
    while ((await readdir(ingest).catch(() => [])).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5))
    }
    expect(await readdir(ingest)).toHaveLength(2)
    for (let i = 0; i < blob.bytes.length; i += 50_000) {
      for (const body of bodies) body.write(blob.bytes.subarray(i, i + 50_000))
      await new Promise((r) => setImmediate(r))
    }
    for (const body of bodies) body.end()
    await Promise.all(pushes)
    expect((await readFile(one.layout.blobPath(blob.desc.digest))).equals(blob.bytes)).toBe(true)
    expect(await readdir(ingest)).toEqual([])
  })

  it('a cut stream leaves no blob and no temp file', async () => {
    const dir = tmp.path('cut')
    const target = await openLayoutTarget(dir, { create: true })
    const blob = blobOf(Buffer.alloc(200_000, 7), 'application/octet-stream')
    const body = new PassThrough()
    const pushing = target.pushBlob(blob.desc, body)
    body.write(blob.bytes.subarray(0, 70_000))
    setTimeout(() => body.destroy(new Error('connection reset')), 20)
    await expect(pushing).rejects.toThrow('connection reset')
    expect(await target.layout.hasBlob(blob.desc.digest)).toBe(false)
    expect(await files(dir)).toEqual(['index.json', 'oci-layout'])

    // A body that ends early without an error is caught by the size check.
    const short = await rejection(target.pushBlob(blob.desc, Readable.from([blob.bytes.subarray(0, 10)])))
    expect(short.code).toBe('SIZE_INVALID')
    // Right size, wrong content.
    const wrong = await rejection(target.pushBlob(blob.desc, Readable.from([Buffer.alloc(200_000, 8)])))
    expect(wrong.code).toBe('DIGEST_MISMATCH')
    expect(await files(dir)).toEqual(['index.json', 'oci-layout'])
  })

  it('detects a corrupted blob on read', async () => {
    const target = await openLayoutTarget(tmp.path('corrupt'), { create: true })
    const blob = blobOf(Buffer.alloc(100_000, 1), 'application/octet-stream')
    await target.pushBlob(blob.desc, Readable.from([blob.bytes]))
    const path = target.layout.blobPath(blob.desc.digest)
    const damaged = Buffer.from(blob.bytes)
    damaged[50_000] = 2
    await writeFile(path, damaged)
    const err = await rejection(readAll(await target.fetchBlob(blob.desc)))
    expect(err.code).toBe('DIGEST_MISMATCH')
    await writeFile(path, blob.bytes.subarray(0, 10))
    expect((await rejection(readAll(await target.fetchBlob(blob.desc)))).code).toBe('SIZE_INVALID')
    // A blob recorded with the wrong size is rewritten by the next push.
    await target.pushBlob(blob.desc, Readable.from([blob.bytes]))
    expect((await readAll(await target.fetchBlob(blob.desc))).equals(blob.bytes)).toBe(true)
  })

  it('refuses digests that could escape the directory', async () => {
    const target = await openLayoutTarget(tmp.path('escape'), { create: true })
    for (const digest of ['sha256:../../../etc/passwd', 'sha256/../../x', '../oci-layout', 'md5:abc']) {
      const desc = { mediaType: 'application/octet-stream', digest, size: 1 } as never
      expect(() => target.layout.blobPath(digest as never)).toThrow(FerryError)
      expect((await rejection(target.fetchBlob(desc))).code).toBe('DIGEST_INVALID')
      expect((await rejection(target.pushBlob(desc, Readable.from([Buffer.from('x')])))).code).toBe(
        'DIGEST_INVALID',
      )
      expect((await rejection(target.hasManifest(digest as never))).code).toBe('DIGEST_INVALID')
    }
    expect((await rejection(target.fetchManifest('sha256:../../../etc/passwd'))).code).toBe('DIGEST_INVALID')
  })
})
