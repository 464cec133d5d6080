// The library's public surface: everything the CLI does is callable from here.

export * from './audit/index.js'
export * from './bundle/index.js'
export * from './content/capabilities.js'
export * from './content/memory.js'
export * from './content/precondition.js'
export * from './content/present.js'
export * from './content/store.js'
export * from './content/target.js'
export * from './context.js'
export * from './copy/copy.js'
export * from './errors.js'
export * from './evidence/index.js'
export * from './gc/index.js'
export * from './graph/index.js'
export * from './inspect.js'
export * from './layout/index.js'
export * from './ledger/index.js'
export * from './log.js'
export * from './oci/descriptor.js'
export * from './oci/digest.js'
export * from './oci/manifest.js'
export * from './oci/media-types.js'
export * from './oci/platform.js'
export * from './oci/schemas.js'
export * from './pin/index.js'
export * from './policy/index.js'
export * from './progress.js'
export * from './promote/index.js'
// The grammar's predicates and attachment tags; its patterns stay inside.
export {
  type AttachmentTag,
  COSIGN_TAG_SUFFIXES,
  type CosignTagSuffix,
  cosignTag,
  cosignTags,
  isAttachmentTag,
  isRefName,
  isRegistryHost,
  isRepositoryName,
  isTag,
  parseAttachmentTag,
  referrersTag,
} from './reference/grammar.js'
export * from './reference/index.js'
export * from './registry/index.js'
export * from './retention/index.js'
export * from './serve/index.js'
export * from './sign/index.js'
export * from './supply/index.js'
export * from './sync/sync.js'
export * from './synthetic.js'
export * from './targets/copy-reference.js'
export * from './targets/open.js'
