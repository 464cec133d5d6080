import { createHash } from 'node:crypto'

/**
 * The hash chain: every line ferry writes carries `prev`, the sha256 of the exact bytes of the line
 * before it (without its newline), and `seq`, its own position among the file's non-blank lines
 * (1-based). A line edited, removed, inserted or moved breaks the link of the line after it, or its own
 * `seq`. Blank lines are not part of the chain (nor of the ledger).
 */

export const lineHash = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** `prev` of the first line: the sha256 of nothing. */
export const GENESIS = lineHash(new Uint8Array(0))

export interface Line {
  /** 1-based line number in the file, as editors show it. */
  number: number
  /** Without the newline. */
  bytes: Buffer
}

/**
 * The non-blank lines that end with a newline, and `tail`: a last line without one (a write a crash cut
 * short), which no reader takes as a record and the next append does not chain onto.
 */
export function splitLines(file: Buffer): { lines: Line[]; tail?: Line } {
  const lines: Line[] = []
  let start = 0
  let number = 1
  for (;;) {
    const end = file.indexOf(0x0a, start)
    const bytes = file.subarray(start, end < 0 ? file.length : end)
    const blank = bytes.toString('utf8').trim() === ''
    if (end < 0) return blank ? { lines } : { lines, tail: { number, bytes } }
    if (!blank) lines.push({ number, bytes })
    start = end + 1
    number++
  }
}
