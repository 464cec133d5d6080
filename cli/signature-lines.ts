import type { SignImageResult } from '../src/supply/index.js'
import { plural } from './format.js'

/** What `sign` (and `attach --key`) tell a human about the signatures written. */
export function signatureLines(r: SignImageResult): string[] {
  const lines: string[] = []
  if (r.classic) {
    lines.push(
      r.classic.skipped
        ? `classic: an equivalent signature is already in ${r.name}:${r.classic.tag}`
        : `classic: signed ${r.digest}, ${r.name}:${r.classic.tag} now holds ${plural(r.classic.signatures, 'signature')}`,
    )
  }
  if (r.bundle) {
    lines.push(
      `bundle: signed ${r.digest}${r.bundle.keyless ? ' keyless' : ''}, referrer ${r.name}@${r.bundle.manifest}`,
    )
  }
  return lines
}
