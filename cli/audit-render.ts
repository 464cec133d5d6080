import type { AuditFinding, AuditReport } from '../src/audit/index.js'
import { plural } from './format.js'

const SEVERITY = { drift: 'DRIFT', warn: 'warn ' } as const

/** One line per finding: severity, the image, and what is wrong (both digests and the ledger line where there are). */
export const findingLine = (f: AuditFinding): string => `${SEVERITY[f.severity]}  ${f.image}  ${f.message}`

/** The closing line: what was looked at, and the verdict. */
export function auditSummary(report: AuditReport): string {
  const tags = report.repositories.reduce((n, r) => n + r.tags, 0)
  const recorded = report.repositories.reduce((n, r) => n + r.recorded, 0)
  const drift = report.findings.filter((f) => f.severity === 'drift').length
  const warnings = report.findings.length - drift
  const looked = `${plural(report.repositories.length, 'repository', 'repositories')}, ${plural(tags, 'tag')}${report.ledger ? `, ${recorded} recorded in ${report.ledger.file}` : ''}`
  const verdict = report.drift ? `drift: ${plural(drift, 'finding')}` : 'no drift'
  return `${looked}: ${verdict}${warnings ? `, ${plural(warnings, 'warning')}` : ''}`
}
