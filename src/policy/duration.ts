import { z } from 'zod'

/**
 * Spans written the way cron users and Kubernetes write them: `30d`, `24h`, `1h30m`, `2y`. A year is
 * 365 days and a week 7: retention windows are counted in days, never in calendar months.
 */
const UNIT_MS = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
} as const

const DURATION_RE = /^(?:\d{1,6}[smhdwy])+$/
const PART_RE = /(\d{1,6})([smhdwy])/g

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined
  let ms = 0
  for (const [, n, unit] of text.matchAll(PART_RE)) ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS]
  return ms
}

export interface Duration {
  /** As written, for messages and plans. */
  text: string
  ms: number
}

/** `730d` → `{ text: '730d', ms: 63072000000 }`, checked where the file is read. */
export const durationSchema = z.string().transform((text, ctx): Duration => {
  const ms = parseDuration(text)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration: write e.g. 30d, 24h, 1h30m, 2y` })
    return z.NEVER
  }
  return { text, ms }
})
