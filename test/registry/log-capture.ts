import type { Logger } from '../../src/log.js'

/** A logger that keeps every line, for counting requests and checking what was written. */
export function captureLogger(): Logger & { lines: string[]; requests(re: RegExp): string[]; clear(): void } {
  const lines: string[] = []
  return {
    lines,
    debug: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    // Request lines look like `GET http://127.0.0.1:PORT/v2/... -> 200 (3 ms)`.
    requests: (re) => lines.filter((l) => / -> \d{3} \(/.test(l) && re.test(l)),
    clear: () => {
      lines.length = 0
    },
  }
}
