import type { ImageCheck, PolicyCheck } from '../src/policy/index.js'

const VERDICT = { pass: 'pass', fail: 'FAIL', warn: 'warn', skip: 'skip' } as const

/**
 * Also for ledger records, whose rule and result are plain strings (written by any ferry version). A
 * row from another environment than the one the header names says which.
 */
export const checkLine = (
  c: { rule: string; result: string; message: string; environment?: unknown },
  shown?: string | null,
): string => {
  const from =
    typeof c.environment === 'string' && c.environment !== shown ? ` (environment ${c.environment})` : ''
  return `  ${VERDICT[c.result as PolicyCheck['result']] ?? c.result}  ${c.rule.padEnd(11)} ${c.message}${from}`
}

/** A header line per image, then one row per rule. */
export function renderImageCheck(r: ImageCheck): string[] {
  const env =
    r.environment === null
      ? 'no environment (global rules, enforce)'
      : `environment ${r.environment} (${r.mode})`
  const lines = [`${r.image}  ${r.digest}  ${env}`]
  if (!r.checks.length) lines.push('  (no rule applies)')
  lines.push(...r.checks.map((c) => checkLine(c, r.environment)))
  return lines
}
