// Air-gap bundles: one reproducible tar that is an OCI image layout, created from registries, verified
// offline, listed, imported into a registry or layout, and read as a Target.
export { BundleTarget } from './bundle-target.js'
export { type CreateBundleOptions, type CreateBundleResult, createBundle } from './create.js'
export {
  BUNDLE_SOURCE_ANNOTATION,
  type BundleMetadata,
  bundleMetadataSchema,
  FORMAT_VERSION as BUNDLE_FORMAT_VERSION,
  type ImageRecord,
  type PartsIndex,
} from './format.js'
export {
  type Downgrade,
  type ImportBundleOptions,
  type ImportedImage,
  type ImportResult,
  importBundle,
} from './import.js'
export { type BundleOrder, defaultImportRecordPath, isOlder as isOlderBundle } from './import-record.js'
export {
  createInventory,
  type Inventory,
  inventorySchema,
  loadInventory,
  writeInventory,
} from './inventory.js'
export { type BundleListing, listBundle } from './list.js'
export { type Destination, destinationPath, loadMappingFile, parseDestination } from './mapping.js'
export { type MappingOut, readMappingOut, writeMappingFile } from './mapping-out.js'
export { parseSize } from './output.js'
export { BundleReader, type OpenBundleOptions, readBundleMetadata } from './reader.js'
export type { SignatureState } from './signature.js'
export { type BundleSpec, loadBundleSpec, specFromImages } from './spec.js'
export { type BundleVerifyReport, type ImageVerification, verifyBundleFile } from './verify.js'
