import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { openLayoutTarget } from '../../../src/layout/index.js'
import { descriptorOf } from '../../../src/oci/descriptor.js'
import { parseManifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { artifactFor, indexOf, pushImage, syntheticImage } from '../../helpers/registry-fixtures.js'

/** The one manifest → descriptor conversion, in each form a caller asks for. */
describe('descriptorOf', () => {
  const image = syntheticImage().manifest

  it('gives media type, digest and size of the exact bytes, in that key order, and nothing else', () => {
    // Indented JSON: the size is the bytes received, never a re-serialisation's.
    const spaced = parseManifest(
      Buffer.from(JSON.stringify(JSON.parse(Buffer.from(image.bytes).toString()), null, 2)),
    )
    const d = descriptorOf(spaced)
    expect(Object.keys(d)).toEqual(['mediaType', 'digest', 'size'])
    expect(d).toEqual({
      mediaType: MediaType.ociManifest,
      digest: spaced.digest,
      size: spaced.bytes.byteLength,
    })
    expect(d.size).toBeGreaterThan(image.bytes.byteLength)
  })

  it("own: the manifest's artifactType field only; referrers: else an image's config media type", () => {
    const sbom = artifactFor(descriptorOf(image), MediaType.spdxJson).manifest
    expect(descriptorOf(sbom, { artifactType: 'own' }).artifactType).toBe(MediaType.spdxJson)
    expect(descriptorOf(sbom, { artifactType: 'referrers' }).artifactType).toBe(MediaType.spdxJson)
    expect(descriptorOf(image, { artifactType: 'own' })).not.toHaveProperty('artifactType')
    expect(descriptorOf(image, { artifactType: 'referrers' }).artifactType).toBe(MediaType.ociConfig)
    const index = indexOf([{ manifest: image, platform: { os: 'linux', architecture: 'amd64' } }])
    expect(descriptorOf(index, { artifactType: 'referrers' })).not.toHaveProperty('artifactType')
  })

  it("annotations: the manifest's own or a given record, left out when empty", () => {
    const signed = artifactFor(descriptorOf(image), MediaType.spdxJson, { 'org.example/k': 'v' }).manifest
    expect(descriptorOf(signed, { annotations: 'own' }).annotations).toEqual({ 'org.example/k': 'v' })
    expect(descriptorOf(signed)).not.toHaveProperty('annotations')
    const empty = artifactFor(descriptorOf(image), MediaType.spdxJson, {}).manifest
    expect(descriptorOf(empty, { annotations: 'own' })).not.toHaveProperty('annotations')
    expect(descriptorOf(image, { annotations: { a: 'b' } })).toMatchObject({ annotations: { a: 'b' } })
    expect(descriptorOf(image, { annotations: {} })).not.toHaveProperty('annotations')
  })

  it('is what every backend lists as a referrer: a layout and a memory store agree, empty annotations too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-descriptor-'))
    try {
      const layout = await openLayoutTarget(join(dir, 'layout'), { create: true })
      const memory = new MemoryTarget()
      const subject = syntheticImage()
      const bare = artifactFor(descriptorOf(subject.manifest), MediaType.spdxJson, {})
      const noted = artifactFor(descriptorOf(subject.manifest), MediaType.spdxJson, { 'org.example/k': 'v' })
      for (const target of [layout, memory]) {
        await pushImage(target, subject, 'v1')
        await pushImage(target, bare)
        await pushImage(target, noted)
      }
      const sorted = (ds: { digest: string }[]) => [...ds].sort((a, b) => a.digest.localeCompare(b.digest))
      const listed = sorted(await layout.referrers(subject.manifest.digest))
      expect(listed).toEqual(sorted(await memory.referrers(subject.manifest.digest)))
      expect(listed).toEqual(
        sorted(
          [bare.manifest, noted.manifest].map((m) =>
            descriptorOf(m, { artifactType: 'referrers', annotations: 'own' }),
          ),
        ),
      )
      await layout.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
