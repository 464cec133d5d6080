/**
 * cosign's classic signatures: an image tagged `sha256-<hex>.sig` in the signed image's repository, one
 * layer per signature holding the simple-signing payload, the base64 DER signature in a layer annotation
 * (cosign `pkg/oci/static/signature.go`, `pkg/oci/mutate/signatures.go`). The layer format alone, apart
 * from signing: copy merges signature images without loading any signing code.
 */
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature'
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate'
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle'

/** cosign refuses to read more signature layers than this (`maxLayers`), so never write more. */
export const MAX_SIGNATURE_LAYERS = 1000
