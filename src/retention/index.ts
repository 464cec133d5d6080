// Retention GC: which tags a policy keeps, the closure of what they need, and a backed-up, resumable apply.
export { type Age, type AgeSource, ageOf, type LedgerAges, ledgerAges } from './age.js'
export {
  type ApplyOptions,
  applyRepository,
  checkDeletes,
  type RepositoryApply,
  repositoryKey,
  retentionStateDir,
} from './apply.js'
export {
  BACKUP_FILE,
  type BackupRecord,
  type RestoreOptions,
  type RestoreResult,
  readBackup,
  type TagConflict,
} from './backup.js'
export type { Step } from './journal.js'
export { judgeTags, type KeepReason, type TagFacts, type TagVerdict } from './keep.js'
export { planOrder } from './order.js'
export {
  type DeletedManifest,
  type DeletedTag,
  type FallbackIndex,
  type ForbiddenTag,
  type KeptTag,
  type PlanOptions,
  planRepository,
  type RepositoryPlan,
  type RepositorySummary,
} from './plan.js'
export { type RepositorySelection, type SelectedRepository, selectRepositories } from './repositories.js'
export {
  applyRetention,
  planRetention,
  type RetentionApply,
  type RetentionOptions,
  type RetentionPlan,
  type RetentionRestore,
  restoreRetention,
  summarizePlans,
} from './retention.js'
export { type StepCounts, stepsOf } from './steps.js'
