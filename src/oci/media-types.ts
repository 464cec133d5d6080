/** Every media type ferry names, in one place (OCI image-spec v1.1, Docker distribution, cosign). */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayout: 'application/vnd.oci.layout.header.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  sigstoreBundleV03: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  dsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
  spdxJson: 'application/spdx+json',
  cyclonedxJson: 'application/vnd.cyclonedx+json',
} as const

/** Manifests that list other manifests. */
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.ociIndex, MediaType.dockerManifestList]

/** Manifests that describe one image or artifact (a config plus layers). */
export const IMAGE_MEDIA_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.dockerManifest]

/** Schema 1 is refused everywhere: its digest covers a JWS signature and it cannot be copied byte for byte. */
export const SCHEMA1_MEDIA_TYPES: readonly string[] = [
  MediaType.dockerManifestV1,
  MediaType.dockerManifestV1Signed,
]

/** The Accept list for manifest requests, most specific first (registries pick the first they can serve). */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.ociManifest,
  MediaType.dockerManifestList,
  MediaType.dockerManifest,
].join(', ')

/** Layers a registry must not be asked to host (foreign / non-distributable). */
export const NONDISTRIBUTABLE_MEDIA_TYPES: readonly string[] = [
  MediaType.dockerLayerForeign,
  MediaType.ociLayerNondistributable,
  MediaType.ociLayerNondistributableGzip,
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]

export const isIndexMediaType = (mt: string | undefined): boolean => !!mt && INDEX_MEDIA_TYPES.includes(mt)
export const isImageMediaType = (mt: string | undefined): boolean => !!mt && IMAGE_MEDIA_TYPES.includes(mt)
export const isManifestMediaType = (mt: string | undefined): boolean =>
  isIndexMediaType(mt) || isImageMediaType(mt)
