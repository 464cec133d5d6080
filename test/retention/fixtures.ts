import { randomBytes } from 'node:crypto'
import type { Target } from '../../src/content/target.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { attachSbom, signImage } from '../../src/supply/index.js'
import {
  blobOf,
  indexOf,
  manifestOf,
  pushImage,
  putManifest,
  syntheticImage,
} from '../helpers/registry-fixtures.js'
import { SPDX, type TestKeys } from '../supply/helpers.js'

export const CREATED = 'org.opencontainers.image.created'

/** Where an image says how old it is (or does not). */
export type AgeIn = { annotation: string } | { label: string } | { config: string } | { none: true }

/** A small image whose age is declared in one place; `created` in the config is always set (1970 by default). */
export async function agedImage(target: Target, tag: string | undefined, age: AgeIn): Promise<Manifest> {
  const labels = 'label' in age ? { [CREATED]: age.label } : {}
  const config = blobOf(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: 'config' in age ? age.config : '1970-01-01T00:00:00Z',
      config: { Labels: labels },
      rootfs: { type: 'layers', diff_ids: [] },
      nonce: randomBytes(8).toString('hex'),
    }),
    MediaType.ociConfig,
  )
  const layer = blobOf(randomBytes(64))
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: config.desc,
    layers: [layer.desc],
  }
  if ('annotation' in age) doc.annotations = { [CREATED]: age.annotation }
  const manifest = manifestOf(doc)
  await pushImage(target, { config, layers: [layer], manifest }, tag)
  return manifest
}

/** A two-platform index with untagged children, annotated with its age. */
export async function agedIndex(
  target: Target,
  tag: string,
  created: string,
): Promise<{ index: Manifest; children: Manifest[] }> {
  const children: Manifest[] = []
  for (const architecture of ['amd64', 'arm64']) {
    const image = syntheticImage({ layerSizes: [64], platform: { os: 'linux', architecture } })
    await pushImage(target, image)
    children.push(image.manifest)
  }
  const plain = indexOf(
    children.map((manifest, i) => ({
      manifest,
      platform: { os: 'linux', architecture: i ? 'arm64' : 'amd64' },
    })),
  )
  const doc = JSON.parse(Buffer.from(plain.bytes).toString()) as Record<string, unknown>
  const index = manifestOf({ ...doc, annotations: { [CREATED]: created } })
  await putManifest(target, index, tag)
  return { index, children }
}

/** Signs in both schemes (cosign `.sig` tag and OCI 1.1 referrer), attaches an SBOM and signs that (`.sig`). */
export async function signWithSbom(target: Target, subject: Manifest, keys: TestKeys): Promise<void> {
  await signImage({ target, reference: subject.digest, key: keys.key, format: 'both' })
  const sbom = await attachSbom({ target, reference: subject.digest, bytes: SPDX })
  await signImage({ target, reference: sbom.digest, key: keys.key, format: 'classic' })
}

export const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString()
