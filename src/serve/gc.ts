import { collectGarbage, DEFAULT_GC_GRACE_MS, type GcResult } from '../gc/index.js'
import type { OciLayout } from '../layout/index.js'
import type { Logger } from '../log.js'
import type { Membership } from './reachable.js'
import type { WriteGate } from './write-gate.js'

export interface ServeGcOptions {
  /** Time between the end of one collection and the start of the next. */
  intervalMs: number
  /** Unreachable files written, or found by a client, more recently than this stay. Default 1 h. */
  graceMs?: number
  /** After each collection (the command prints what it freed). */
  onCollected?: (result: GcResult) => void
}

/**
 * `ferry gc` inside the server, every `intervalMs`: the same collection (gc/), holding the write gate
 * alone for its final mark and sweep (no manifest PUT or mount is between its check and its write) and
 * index.json's lock (no other process's tag lands meanwhile), and keeping what a client was told is here
 * within the grace period, which its next manifest may name.
 */
export class ServeGc {
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly layout: OciLayout,
    private readonly members: Membership,
    private readonly gate: WriteGate,
    private readonly opts: ServeGcOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule()
  }

  /** One collection now (what the timer runs). */
  async collect(): Promise<GcResult> {
    const graceMs = this.opts.graceMs ?? DEFAULT_GC_GRACE_MS
    const since = Date.now() - graceMs
    const result = await collectGarbage(this.layout, {
      graceMs,
      protect: (digest) => this.members.toldSince(digest, since),
      exclusive: (fn) => this.gate.exclusive(() => this.layout.whileIndexLocked(fn)),
    })
    this.members.collected(
      result.freed.map((i) => i.digest),
      since,
    )
    return result
  }

  /** No new collection starts; one running is waited for. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.running = this.collect()
        .then((result) => this.opts.onCollected?.(result))
        .catch((err: unknown) => {
          // The next run tries again: a damaged manifest stops a collection, never the registry.
          this.logger.warn(`garbage collection of ${this.layout.dir} failed: ${(err as Error).message}`)
        })
        .finally(() => {
          this.running = undefined
          this.schedule()
        })
    }, this.opts.intervalMs)
    this.timer.unref()
  }
}
