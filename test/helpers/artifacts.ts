import { Readable } from 'node:stream'
import type { Target } from '../../src/content/target.js'
import { digestOf } from '../../src/oci/digest.js'
import { type Manifest, parseManifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'

const EMPTY = new TextEncoder().encode('{}')

/** Pushes a small OCI 1.1 artifact (empty config, one layer) whose subject is `subject`. */
export async function pushArtifact(
  target: Target,
  subject: Manifest,
  artifactType: string,
  content: string,
  tag?: string,
): Promise<Manifest> {
  const layer = new TextEncoder().encode(content)
  const layerDesc = { mediaType: artifactType, digest: digestOf(layer), size: layer.byteLength }
  const configDesc = { mediaType: MediaType.ociEmpty, digest: digestOf(EMPTY), size: 2 }
  await target.pushBlob(configDesc, Readable.from([EMPTY]))
  await target.pushBlob(layerDesc, Readable.from([layer]))
  const manifest = parseManifest(
    new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType,
        config: configDesc,
        layers: [layerDesc],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.bytes.byteLength },
        annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
      }),
    ),
  )
  await target.pushManifest(manifest, tag)
  return manifest
}

/** A manifest shaped like cosign's `.sig` image, pushed under `sha256-HEX.sig` (no subject: tag-attached). */
export async function pushCosignStyleSignature(target: Target, subject: Manifest): Promise<Manifest> {
  const payload = new TextEncoder().encode(
    JSON.stringify({ critical: { image: { 'docker-manifest-digest': subject.digest } }, optional: null }),
  )
  const layerDesc = {
    mediaType: MediaType.cosignSimpleSigning,
    digest: digestOf(payload),
    size: payload.byteLength,
  }
  const config = new TextEncoder().encode('{"architecture":"","os":"","config":{}}')
  const configDesc = { mediaType: MediaType.ociConfig, digest: digestOf(config), size: config.byteLength }
  await target.pushBlob(configDesc, Readable.from([config]))
  await target.pushBlob(layerDesc, Readable.from([payload]))
  const manifest = parseManifest(
    new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: configDesc,
        layers: [{ ...layerDesc, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
      }),
    ),
  )
  await target.pushManifest(manifest, `${subject.digest.replace(':', '-')}.sig`)
  return manifest
}
