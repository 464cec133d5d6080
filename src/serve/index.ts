// `ferry serve`: an OCI distribution registry over an OCI image layout directory, or a bundle file (read-only).

export { isRepositoryName } from '../reference/grammar.js'
export { acceptsMediaType } from './accept.js'
export type { ServedBundle } from './bundle-store.js'
export { API_ERRORS, ApiError, type ApiErrorCode } from './errors.js'
export type { ServeGcOptions } from './gc.js'
export type { PolicyReload } from './policy/serve-policy.js'
export {
  isLoopbackAddress,
  type RunningServer,
  type ServeOptions,
  type ServePolicyOptions,
  startServer,
} from './server.js'
export { UPLOADS_DIR } from './uploads.js'
