// Governed writes: promotion by digest through the policy gates, retag, delete, and the ledger.
export { type DeleteOptions, type DeleteResult, deleteImage } from './delete.js'
export {
  appendLedger,
  type LedgerContents,
  type LedgerRecord,
  ledgerRecordSchema,
  ledgerRecordsFor,
  readLedger,
} from './ledger.js'
export { type PromoteOptions, type PromoteResult, type PromoteVerdict, promote } from './promote.js'
export { type RetagOptions, type RetagResult, retag } from './retag.js'
