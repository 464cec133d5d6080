import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { descriptorOf } from '../../../src/oci/descriptor.js'
import type { Digest } from '../../../src/oci/digest.js'
import type { Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { carriesFilesystem, isAttachment } from '../../../src/serve/policy/attachments.js'
import { defaultServeNames, parseServeName } from '../../../src/serve/policy/names.js'
import { artifactFor, indexOf, manifestOf, syntheticImage } from '../../helpers/registry-fixtures.js'

/** Manifests by digest, as a store would load them; NOT_FOUND for the rest. */
const loader = (...known: Manifest[]) => {
  const byDigest = new Map(known.map((m) => [m.digest, m]))
  return async (d: Digest) => {
    const m = byDigest.get(d)
    if (!m) throw new FerryError('NOT_FOUND', `${d} not found`)
    return m
  }
}

const image = syntheticImage().manifest
const sbom = artifactFor(descriptorOf(image, { artifactType: 'referrers' }), MediaType.spdxJson).manifest
const signature = manifestOf({
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: { mediaType: MediaType.ociConfig, digest: image.digest, size: 2 },
  layers: [{ mediaType: MediaType.cosignSimpleSigning, digest: image.digest, size: 10 }],
})
const cosignTag = `${image.digest.replace(':', '-')}.sig`

describe('what attaches to an image (serve --policy)', () => {
  it('an image with a file-system layer is runnable, a signature or SBOM is not, an index is what it lists', async () => {
    expect(await carriesFilesystem(image, loader())).toBe(true)
    expect(await carriesFilesystem(sbom, loader())).toBe(false)
    expect(await carriesFilesystem(signature, loader())).toBe(false)
    const platforms = indexOf([{ manifest: image, platform: { os: 'linux', architecture: 'amd64' } }])
    expect(await carriesFilesystem(platforms, loader(image))).toBe(true)
    const referrers = indexOf([{ manifest: sbom, platform: { os: 'linux', architecture: 'amd64' } }])
    expect(await carriesFilesystem(referrers, loader(sbom))).toBe(false)
    // A child that cannot be read counts as runnable: the answer lets things past a policy.
    expect(await carriesFilesystem(referrers, loader())).toBe(true)
  })

  it('an attachment has a subject or an attachment tag, and carries no file system', async () => {
    expect(await isAttachment(sbom, [], loader())).toBe(true)
    expect(await isAttachment(signature, [cosignTag], loader())).toBe(true)
    expect(await isAttachment(signature, ['v1.0.0'], loader())).toBe(false)
    // An image under a `.sig` tag, or with a subject added, is still an image.
    expect(await isAttachment(image, [cosignTag], loader())).toBe(false)
    const withSubject = syntheticImage({
      subject: descriptorOf(sbom, { artifactType: 'referrers' }),
    }).manifest
    expect(await isAttachment(withSubject, [], loader())).toBe(false)
  })
})

describe('the names serve goes by', () => {
  it('defaults to the listen address and localhost:PORT, each once', () => {
    expect(defaultServeNames('127.0.0.1:5000', 5000)).toEqual(['127.0.0.1:5000', 'localhost:5000'])
    expect(defaultServeNames('LOCALHOST:5000', 5000)).toEqual(['LOCALHOST:5000'])
  })

  it('takes HOST[:PORT] as an image reference writes it, and refuses anything else', () => {
    expect(parseServeName('registry.intra')).toBe('registry.intra')
    expect(parseServeName('registry.intra:5443')).toBe('registry.intra:5443')
    expect(parseServeName('[::1]:5000')).toBe('[::1]:5000')
    for (const bad of ['https://registry.intra', 'registry.intra/acme', '', 'a b']) {
      expect(() => parseServeName(bad)).toThrow(/invalid --name/)
    }
  })
})
