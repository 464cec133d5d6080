// The library's public surface: everything the CLI does is callable from here.
export * from './content/target.js'
export * from './errors.js'
export * from './log.js'
export * from './oci/digest.js'
export * from './oci/manifest.js'
export * from './oci/media-types.js'
export * from './oci/platform.js'
export * from './oci/schemas.js'
