// Supply-chain operations against a target: sign, attach, discover, verify (offline).
export { createdTimestamp, parseKeyValues } from './annotations.js'
export {
  type AttachArtifactOptions,
  type AttachResult,
  type AttachSbomOptions,
  attachArtifact,
  attachSbom,
} from './attach.js'
export { type BlobSignature, signBlob, verifyBlob } from './blob.js'
export { readInputFile } from './files.js'
export {
  DEFAULT_KEY_PREFIX,
  type KeyPairFiles,
  loadKeySet,
  loadPublicKey,
  loadSigningKey,
  type WriteKeyPairOptions,
  writeKeyPair,
} from './key-files.js'
export type { AttachScheme, ReferrersScheme } from './kinds.js'
export {
  type AttachedEntry,
  type AttachedSubject,
  type AttachedTree,
  type ListAttachedOptions,
  listAttached,
} from './list-attached.js'
export {
  cosignDockerReference,
  type SignatureFormat,
  type SignImageOptions,
  type SignImageResult,
  signImage,
} from './sign-image.js'
export type { SignatureCheck } from './signatures.js'
export {
  type KeySecrets,
  openSigner,
  PKCS11_MODULE_ENV,
  PKCS11_PIN_ENV,
  readPublicKeyOf,
  type TokenKeyPairOptions,
  writeTokenKeyPair,
} from './signing-keys.js'
export {
  type Requirement,
  type SbomCheck,
  type VerifyImageOptions,
  type VerifyImageResult,
  verifyImage,
} from './verify-image.js'
