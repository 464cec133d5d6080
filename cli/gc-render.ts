import type { GcResult } from '../src/gc/index.js'
import { formatBytes, plural } from './format.js'

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
  const freed = `${plural(s.manifests, 'manifest')} and ${plural(s.blobs, 'blob')}, ${formatBytes(s.bytes)}`
  const young = result.young ? `, ${plural(result.young, 'unreachable file')} younger than ${grace}` : ''
  const kept = `kept ${plural(result.reachable.manifests, 'reachable manifest')} and ${plural(result.reachable.blobs, 'blob')}${young}`
  lines.push(`${result.dryRun ? 'would free' : 'freed'} ${freed}; ${kept}`)
  if (result.missing.length) {
    lines.push(
      `note: ${plural(result.missing.length, 'manifest')} named in ${result.root} ${result.missing.length === 1 ? 'is' : 'are'} missing (nothing is reachable through them): ${result.missing.slice(0, 3).join(', ')}${result.missing.length > 3 ? ', …' : ''}`,
    )
  }
  return lines
}
