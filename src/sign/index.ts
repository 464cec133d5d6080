// Signing and SBOM primitives: keys, cosign's classic `.sig` images, Sigstore bundles, OCI 1.1 referrers.
// Pure functions over bytes; pushing and fetching is the registry client's job.
export * from './bundle.js'
export * from './bundle-verify.js'
export * from './classic.js'
export * from './classic-verify.js'
export * from './ggcr-image.js'
export * from './in-toto.js'
export * from './keyless.js'
export * from './keys.js'
export type { VerifyReport } from './report.js'
export * from './sbom.js'
export * from './signer.js'
export * from './simple-signing.js'
