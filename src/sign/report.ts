/**
 * The outcome of a signature check, phrased for people: what was established and what was not (an
 * offline check with a key says nothing about transparency logs, and a report should say so).
 */
export interface VerifyReport {
  ok: boolean
  /** Why it failed, one line; absent when `ok`. */
  reason?: string
  checked: string[]
  notChecked: string[]
}

export function failed(reason: string, checked: string[], notChecked: string[]): VerifyReport {
  return { ok: false, reason, checked, notChecked }
}
