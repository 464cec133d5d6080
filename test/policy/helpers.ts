import { copyFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Target } from '../../src/content/target.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { attachSbom, signImage } from '../../src/supply/index.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { makeKeys, SPDX, type TestKeys } from '../supply/helpers.js'

/** The governance issue's example policy, word for word. */
export const EXAMPLE_POLICY = join(import.meta.dirname, 'ferry.policy.yaml')

export const OCI_LABELS = {
  'org.opencontainers.image.source': 'https://git.intra/acme/shop',
  'org.opencontainers.image.revision': '0b1c2d3e4f5a',
  'org.opencontainers.image.created': '2026-11-30T12:00:00Z',
}

/** The example policy in `dir`, next to the release.pub it names (a fresh key pair). */
export async function examplePolicyIn(
  dir: string,
  keys: TestKeys = makeKeys(),
): Promise<{ path: string; keys: TestKeys }> {
  const path = join(dir, 'ferry.policy.yaml')
  await copyFile(EXAMPLE_POLICY, path)
  await writeFile(join(dir, 'release.pub'), keys.publicKeyPem)
  return { path, keys }
}

export interface ReleaseOptions {
  labels?: 'annotations' | 'config' | 'none'
  sign?: boolean
  sbom?: 'signed' | 'unsigned'
  /** Another key than the releaser's. */
  key?: TestKeys
}

/**
 * Pushes labelled images (annotations or config labels) under a tag, optionally signed (both schemes)
 * with an SBOM, signed too or not: by `keys` unless told otherwise.
 */
export const releaser =
  (keys: TestKeys) =>
  async (target: Target, tag: string, opts: ReleaseOptions = {}): Promise<Manifest> => {
    const where = opts.labels ?? 'annotations'
    const image = syntheticImage({
      layerSizes: [512],
      ...(where === 'annotations'
        ? { annotations: OCI_LABELS }
        : where === 'config'
          ? { labels: OCI_LABELS }
          : {}),
    })
    await pushImage(target, image, tag)
    const key = (opts.key ?? keys).key
    if (opts.sign) await signImage({ target, reference: image.manifest.digest, key, format: 'both' })
    if (opts.sbom) {
      const sbom = await attachSbom({ target, reference: image.manifest.digest, bytes: SPDX })
      if (opts.sbom === 'signed') await signImage({ target, reference: sbom.digest, key, format: 'classic' })
    }
    return image.manifest
  }
