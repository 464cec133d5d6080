import type { SingleBar } from 'cli-progress'
import type { CopyEvent } from '../src/copy/events.js'
import { formatBytes } from './format.js'

/**
 * Progress bars on stderr for copies: one per image in flight plus an overall bar with throughput and
 * ETA. Only on a terminal and never with --json; elsewhere the sink ignores events, and the bar
 * library is not even loaded (it is a share of the start-up of a run from cron).
 */
export async function progressSink(
  enabled: boolean,
): Promise<{ onEvent: (e: CopyEvent) => void; stop: () => void }> {
  if (!enabled || !process.stderr.isTTY) return { onEvent: () => {}, stop: () => {} }
  const { default: cliProgress } = await import('cli-progress')
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
      format: '{name} |{bar}| {done}/{size} {speed} ETA {eta_formatted}',
      formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? formatBytes(v) : String(v)),
    },
    cliProgress.Presets.shades_classic,
  )
  const started = Date.now()
  let overallTotal = 0
  let overallDone = 0
  const overall = multi.create(1, 0, payload('overall', 0, 1, started))
  const bars = new Map<string, { bar: SingleBar; done: number; total: number; started: number }>()
  return {
    onEvent(e) {
      if (e.type === 'plan') {
        const now = Date.now()
        const bar = multi.create(Math.max(e.bytes, 1), 0, payload(e.image, 0, e.bytes, now))
        bars.set(e.image, { bar, done: 0, total: e.bytes, started: now })
        overallTotal += e.bytes
        overall.setTotal(Math.max(overallTotal, 1))
        return
      }
      const entry = bars.get(e.image)
      if (!entry) return
      const delta =
        e.type === 'blob-progress' ? e.bytes : e.type === 'blob-done' && e.outcome !== 'copied' ? e.size : 0
      if (!delta) return
      entry.done += delta
      overallDone += delta
      entry.bar.update(entry.done, payload(e.image, entry.done, entry.total, entry.started))
      overall.update(overallDone, payload('overall', overallDone, overallTotal, started))
    },
    stop: () => multi.stop(),
  }
}

function payload(name: string, done: number, size: number, started: number) {
  const seconds = Math.max((Date.now() - started) / 1000, 0.001)
  return {
    name: name.length > 40 ? `…${name.slice(-39)}` : name.padEnd(40),
    done: formatBytes(done),
    size: formatBytes(size),
    speed: `${formatBytes(done / seconds)}/s`,
  }
}
