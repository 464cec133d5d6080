// Garbage collection of an OCI layout (ferry serve's root): mark what index.json reaches, sweep the rest.
export {
  collectGarbage,
  DEFAULT_GC_GRACE_MS,
  type GcItem,
  type GcOptions,
  type GcResult,
} from './collect.js'
