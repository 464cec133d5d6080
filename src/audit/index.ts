// Drift: what registries hold now against what the ledger recorded and what the policy asks.
export {
  type AuditedRepository,
  type AuditOptions,
  type AuditReport,
  auditRepositories,
  auditTarget,
} from './audit.js'
export type { AuditFinding, FindingKind } from './findings.js'
