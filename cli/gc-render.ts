import type { GcResult } from '../src/gc/index.js'
import { formatBytes } from './format.js'

/** One line per file that goes (or would; unless `perFile` is false), then what was freed and what stayed. */
export function renderGc(result: GcResult, grace: string, opts: { perFile?: boolean } = {}): string[] {
  const verb = result.dryRun ? 'would delete' : 'deleted'
  const lines =
    opts.perFile === false
      ? []
      : result.freed.map(
          (i) => `${verb}  ${i.digest}  ${i.kind.padEnd(8)}  ${i.size} bytes  (modified ${i.modified})`,
        )
  const s = result.summary
  const freed = `${s.manifests} manifest(s) and ${s.blobs} blob(s), ${formatBytes(s.bytes)}`
  const kept = `kept ${result.reachable.manifests} reachable manifest(s) and ${result.reachable.blobs} blob(s)${result.young ? `, ${result.young} unreachable file(s) younger than ${grace}` : ''}`
  lines.push(`${result.dryRun ? 'would free' : 'freed'} ${freed}; ${kept}`)
  if (result.missing.length) {
    lines.push(
      `note: ${result.missing.length} manifest(s) named in ${result.root} are missing (nothing is reachable through them): ${result.missing.slice(0, 3).join(', ')}${result.missing.length > 3 ? ', …' : ''}`,
    )
  }
  return lines
}
