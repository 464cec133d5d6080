// `ferry pin`: deployment files rewritten to verified internal references by digest.
export {
  type Evidence,
  type GateImage,
  type GateVerdict,
  type ImageGate,
  keyGate,
} from './gate.js'
export { type InternalNames, mappingOutNames, registryNames } from './internal.js'
export { DEFAULT_LOCK_FILE, type LockEntry, type LockFile } from './lock.js'
export {
  type FileReport,
  type ImageReport,
  type PinOptions,
  type PinReport,
  pin,
  type Verdict,
} from './pin.js'
export type { Format } from './sites.js'
