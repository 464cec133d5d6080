import { createRequire } from 'node:module'
import type { MultiBar, SingleBar } from 'cli-progress'
import type { ProgressEvent, ProgressSink } from '../src/progress.js'
import { formatBytes } from './format.js'

/**
 * Progress bars on stderr for every operation's progress events: one bar per subject in flight (an
 * image copied, a bundle written or verified) plus an overall bar with throughput and ETA. Only on a
 * terminal and never with --json; elsewhere the sink ignores events. The bars appear with the first
 * `start` and `stop` takes them away (a later `start` draws new ones).
 */
export function progressBars(enabled: boolean): { sink: ProgressSink; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { sink: () => {}, stop: () => {} }
  let drawn: Drawn | undefined
  return {
    sink(e) {
      if (e.type === 'start') drawn ??= draw()
      drawn?.on(e)
    },
    stop() {
      drawn?.multi.stop()
      drawn = undefined
    },
  }
}

interface Drawn {
  multi: MultiBar
  on: (e: ProgressEvent) => void
}

/**
 * cli-progress, loaded when bars are first drawn: most runs (cron, CI, --json, a pipe) draw none, and it
 * is a share of every command's start-up (bench/README.md, "Start-up"). It is CommonJS, so it loads here
 * at once, inside the event that needs it.
 */
const barLibrary = () => createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress')

function draw(): Drawn {
  const cliProgress = barLibrary()
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
  const on = (e: ProgressEvent) => {
    const key = `${e.phase} ${e.subject}`
    const label = e.phase === 'verify' ? `verifying ${e.subject}` : e.subject
    if (e.type === 'start') {
      const now = Date.now()
      const bar = multi.create(Math.max(e.total, 1), 0, payload(label, 0, e.total, now))
      bars.set(key, { bar, done: 0, total: e.total, started: now })
      overallTotal += e.total
      overall.setTotal(Math.max(overallTotal, 1))
      return
    }
    const entry = bars.get(key)
    if (!entry) return
    // A blob skipped or mounted counts as done without a byte having moved.
    const delta = e.type === 'advance' ? e.done : e.kind === 'blob' && e.outcome !== 'copied' ? e.size : 0
    if (!delta) return
    entry.done += delta
    overallDone += delta
    entry.bar.update(entry.done, payload(label, entry.done, entry.total, entry.started))
    overall.update(overallDone, payload('overall', overallDone, overallTotal, started))
  }
  return { multi, on }
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
