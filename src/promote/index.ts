// Governed writes: promotion by digest through the policy gates, retag, delete, and the gate every
// other writing command applies (governed.ts); each attempt recorded in src/ledger/.

export {
  type AdmittedWrite,
  admitRemoval,
  admitWrite,
  type Governance,
  governedCopy,
  governs,
  imageNameOf,
  type Removal,
  type Write,
} from '../governance/governed.js'
export { type DeleteOptions, type DeleteResult, deleteImage } from './delete.js'
export { type PromoteOptions, type PromoteResult, type PromoteVerdict, promote } from './promote.js'
export { type RetagOptions, type RetagResult, retag } from './retag.js'
