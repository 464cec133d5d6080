import type { ImageCheck, PolicyCheck } from '../src/policy/index.js'

const VERDICT = { pass: 'pass', fail: 'FAIL', warn: 'warn', skip: 'skip' } as const

/** Also for ledger records, whose rule and result are plain strings (written by any ferry version). */
export const checkLine = (c: { rule: string; result: string; message: string }): string =>
  `  ${VERDICT[c.result as PolicyCheck['result']] ?? c.result}  ${c.rule.padEnd(11)} ${c.message}`

/** A header line per image, then one row per rule. */
export function renderImageCheck(r: ImageCheck): string[] {
  const env =
    r.environment === null
      ? 'no environment (global rules, enforce)'
      : `environment ${r.environment} (${r.mode})`
  const lines = [`${r.image}  ${r.digest}  ${env}`]
  if (!r.checks.length) lines.push('  (no rule applies)')
  lines.push(...r.checks.map(checkLine))
  return lines
}
