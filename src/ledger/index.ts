// The audit ledger: hash-chained JSON lines of every governed write (promote, tag, copy, delete, serve…), with signed checkpoints.
export { ledgerActor } from './actor.js'
export { type AppendOptions, appendLedger, type ChangeEntry, rfc3339 } from './append.js'
export { recordAttempt, type WriteAttempt } from './attempt.js'
export { type LedgerContents, ledgerRecordsFor, readLedger } from './read.js'
export type { CheckpointRecord, LedgerRecord, PromoteRecord } from './record.js'
export { lastRecordedTags, type RecordedTag, recordedAt, recordedTagKey } from './recorded.js'
export {
  type Checkpoint,
  type CheckpointState,
  checkpointLedger,
  type LedgerVerification,
  verifyLedger,
} from './verify.js'
