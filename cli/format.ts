import type { SignatureState } from '../src/bundle/signature.js'

export { plural } from '../src/util/plural.js'

/** Human renderings shared by commands. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

/** Left-aligned columns, two spaces apart; an empty last cell leaves no trailing spaces. */
export function table(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length)
  }
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** How a bundle's own signature stands, in words (bundle verify, serve --bundle). */
export function bundleSignatureWords(state: SignatureState): string {
  if (state === 'verified') return 'signature verified'
  if (state === 'unsigned') return 'not signed'
  return 'signed, signature not checked (no --key)'
}
