import { describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import type { ReadOnlyTarget } from '../../../src/content/target.js'
import { descriptorOf } from '../../../src/oci/descriptor.js'
import type { Digest } from '../../../src/oci/digest.js'
import type { Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import type { Descriptor } from '../../../src/oci/schemas.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import { listAttached } from '../../../src/supply/list-attached.js'
import {
  artifactFor,
  indexOf,
  pushCosignStyleSignature,
  pushImage,
  putManifest,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'

/** `ferry referrers`: what is attached to an image and to each child of its index, in both schemes. */

async function attach(
  target: MemoryTarget,
  subject: Manifest,
  type: string,
  annotations?: Record<string, string>,
) {
  const artifact = artifactFor(descriptorOf(subject), type, annotations)
  await pushImage(target, artifact)
  return artifact.manifest
}

/**
 * `inner` whose referrers list of `subject` also names `stale`, a manifest it does not hold: what a registry's
 * tag-schema index says once a referrer is deleted without it (no in-memory store lists what it lacks).
 */
function withStaleReferrer(inner: MemoryTarget, subject: Digest, stale: Descriptor): ReadOnlyTarget {
  return new Proxy(inner, {
    get(t, prop, receiver) {
      if (prop !== 'referrers') return Reflect.get(t, prop, receiver)
      return async (digest: Digest, opts?: object) => {
        const listed = await t.referrers(digest, opts)
        return digest === subject ? [...listed, stale] : listed
      }
    },
  })
}

describe('listAttached', () => {
  it('lists referrers (nested), cosign tags and stale listings, for the index and each child once', async () => {
    const store = new MemoryTarget('memory:app')
    const [amd, arm] = ['amd64', 'arm64'].map((architecture) =>
      syntheticImage({ platform: { os: 'linux', architecture } }),
    )
    for (const image of [amd!, arm!]) await pushImage(store, image)
    // arm64 listed twice (two variants): its attachments show under the first only.
    const index = indexOf([
      { manifest: amd!.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm!.manifest, platform: { os: 'linux', architecture: 'arm64' } },
      { manifest: arm!.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ])
    await putManifest(store, index, 'multi')
    const sbom = await attach(store, index, MediaType.spdxJson, { 'org.example/k': 'v' })
    const bundle = await attach(store, sbom, MediaType.sigstoreBundleV03)
    const sig = await pushCosignStyleSignature(store, index)
    const armSbom = await attach(store, arm!.manifest, MediaType.cyclonedxJson)
    const gone = artifactFor(descriptorOf(index), MediaType.spdxJson).manifest
    const staleDesc = descriptorOf(gone, { artifactType: 'referrers' })
    const target = withStaleReferrer(store, index.digest, staleDesc)

    const tree = await listAttached({ target, reference: 'multi' })
    const entry = (m: Manifest, extra: object = {}) => ({
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.bytes.byteLength,
      ...extra,
    })
    expect(tree).toEqual({
      name: 'memory:app',
      reference: 'multi',
      digest: index.digest,
      mediaType: MediaType.ociIndex,
      referrersScheme: 'layout',
      attached: [
        {
          scheme: 'layout',
          ...entry(sbom, { artifactType: MediaType.spdxJson, annotations: { 'org.example/k': 'v' } }),
          children: [
            {
              scheme: 'layout',
              ...entry(bundle, { artifactType: MediaType.sigstoreBundleV03 }),
              children: [],
            },
          ],
        },
        {
          scheme: 'layout',
          ...entry(gone, { artifactType: MediaType.spdxJson }),
          missing: true,
          children: [],
        },
        {
          scheme: 'cosign-tag',
          ...entry(sig, { artifactType: MediaType.cosignSimpleSigning }),
          tag: cosignTag(index.digest, 'sig'),
          children: [],
        },
      ],
      manifests: [
        {
          digest: amd!.manifest.digest,
          mediaType: MediaType.ociManifest,
          platform: 'linux/amd64',
          attached: [],
        },
        {
          digest: arm!.manifest.digest,
          mediaType: MediaType.ociManifest,
          platform: 'linux/arm64',
          attached: [
            { scheme: 'layout', ...entry(armSbom, { artifactType: MediaType.cyclonedxJson }), children: [] },
          ],
        },
        {
          digest: arm!.manifest.digest,
          mediaType: MediaType.ociManifest,
          platform: 'linux/arm64/v8',
          attached: [],
        },
      ],
    })
    // Key order is part of --json's output.
    expect(Object.keys(tree.attached[2]!)).toEqual([
      'scheme',
      'digest',
      'mediaType',
      'size',
      'artifactType',
      'tag',
      'children',
    ])
  })

  it('keeps only the asked type at the top, with everything attached to it, and reads each manifest once', async () => {
    const store = new MemoryTarget()
    const image = syntheticImage()
    await pushImage(store, image, 'v1')
    const sbom = await attach(store, image.manifest, MediaType.spdxJson)
    const bundle = await attach(store, sbom, MediaType.sigstoreBundleV03)
    await attach(store, image.manifest, MediaType.cyclonedxJson)
    await pushCosignStyleSignature(store, image.manifest)
    const { target, calls } = tracking(store)

    const tree = await listAttached({ target, reference: 'v1', artifactType: MediaType.spdxJson })
    expect(tree.attached.map((e) => [e.digest, e.children.map((c) => c.digest)])).toEqual([
      [sbom.digest, [bundle.digest]],
    ])
    expect(tree.manifests).toBeUndefined()
    expect(calls.count('fetchManifest', sbom.digest)).toBe(1)
    expect(calls.count('referrers', image.manifest.digest)).toBe(1)
  })
})
