// The audit ledger: hash-chained JSON lines of promotions and tags, with signed checkpoints.
export { ledgerActor } from './actor.js'
export { type AppendOptions, appendLedger, type ChangeEntry, rfc3339 } from './append.js'
export { type LedgerContents, ledgerRecordsFor, readLedger } from './read.js'
export type { CheckpointRecord, LedgerRecord, PromoteRecord } from './record.js'
export { lastRecordedTags, type RecordedTag, recordedAt, recordedTagKey } from './recorded.js'
export { recordTag, type TagAttempt } from './tag.js'
export {
  type Checkpoint,
  type CheckpointState,
  checkpointLedger,
  type LedgerVerification,
  verifyLedger,
} from './verify.js'
