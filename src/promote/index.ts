// Governed writes: promotion by digest through the policy gates, retag and delete (each recorded in src/ledger/).
export { type DeleteOptions, type DeleteResult, deleteImage } from './delete.js'
export { type PromoteOptions, type PromoteResult, type PromoteVerdict, promote } from './promote.js'
export { type RetagOptions, type RetagResult, retag } from './retag.js'
