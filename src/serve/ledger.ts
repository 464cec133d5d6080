import { checkpointLedger, recordAttempt, type WriteAttempt } from '../ledger/index.js'
import type { Logger } from '../log.js'
import type { Signer } from '../sign/signer.js'
import type { Call } from './context.js'
import { ApiError } from './errors.js'

export interface ServeLedgerOptions {
  /** The ledger (JSON Lines, hash-chained: src/ledger). */
  file: string
  /** Signs a checkpoint of the chain's head every `checkpointEvery` records, after a quiet spell, and at close. */
  signer?: Signer
  /** Default 100 records. */
  checkpointEvery?: number
  /** A checkpoint this long after the first record it would cover, at the latest. Default 5 minutes. */
  checkpointAfterMs?: number
  ferryVersion?: string
}

/**
 * `serve --ledger FILE`: one record per manifest write or delete the registry accepts or refuses, and
 * per pull it refuses, with the client as actor (the htpasswd user and the remote address). Appends are
 * queued, one at a time, so parallel requests never interleave lines; each append also holds the
 * ledger's lock file, so a `ferry promote --ledger` on the same file keeps the chain too.
 */
export class ServeLedger {
  private queue: Promise<void> = Promise.resolve()
  private uncovered = 0
  private timer: NodeJS.Timeout | undefined
  /** `HOST:PORT` the registry answers on, once it listens: the ledger names images with it. */
  host = 'localhost'

  constructor(
    private readonly opts: ServeLedgerOptions,
    private readonly logger: Logger,
  ) {}

  get file(): string {
    return this.opts.file
  }

  /**
   * Appends the attempt once those before it are written. A record that cannot be written is logged,
   * never the client's failure: the write it describes has happened (or been refused) already.
   */
  record(actor: string, attempt: WriteAttempt): Promise<void> {
    return this.enqueue(async () => {
      await recordAttempt({ ledger: this.opts.file, ferryVersion: this.opts.ferryVersion, actor }, attempt)
      this.uncovered++
      if (!this.opts.signer) return
      if (this.uncovered >= (this.opts.checkpointEvery ?? 100)) await this.sign()
      else
        this.timer ??= setTimeout(
          () => void this.enqueue(() => this.sign()),
          this.opts.checkpointAfterMs ?? 5 * 60_000,
        ).unref()
    })
  }

  /** Signs what is not covered yet and waits for every record queued. */
  async close(): Promise<void> {
    clearTimeout(this.timer)
    await this.enqueue(() => this.sign())
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work).catch((err: unknown) => {
      this.logger.warn(`ledger ${this.opts.file}: not written: ${(err as Error).message}`)
    })
    this.queue = next
    return next
  }

  private async sign(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    if (!this.opts.signer || this.uncovered === 0) return
    await checkpointLedger(this.opts.file, this.opts.signer, { actor: 'ferry serve' })
    this.uncovered = 0
  }
}

/** A request's repository and reference as the ledger writes them: `HOST/REPO:TAG` or `HOST/REPO@DIGEST`. */
export interface Requested {
  name: string
  tag?: string
  digest?: string
}

/**
 * What the registry decided about one request, recorded with the client as actor: `verdict` for what
 * it did, or the refusal `err` when the policy refused it (403 DENIED). Other failures are the
 * client's or the server's, not decisions: they are not recorded.
 */
export async function recordRequest(
  call: Call,
  what: Requested & { operation: string; digest: string; previous?: string },
  outcome: { verdict: WriteAttempt['verdict'] } | { err: unknown },
): Promise<void> {
  const ledger = call.ctx.ledger
  if (!ledger) return
  if ('err' in outcome && !(outcome.err instanceof ApiError && outcome.err.status === 403)) return
  const ref = what.tag === undefined ? `@${what.digest}` : `:${what.tag}`
  await ledger.record(call.actor, {
    operation: what.operation,
    source: `${call.req.method} /v2/${what.name}/manifests/${what.tag ?? what.digest}`,
    destination: `${ledger.host}/${what.name}${ref}`,
    digest: what.digest,
    ...(what.previous ? { previous: what.previous } : {}),
    environment: call.ctx.policy?.environmentOf(what.name, what.tag) ?? null,
    ...('err' in outcome
      ? { verdict: 'refused' as const, reason: (outcome.err as Error).message }
      : { verdict: outcome.verdict }),
  })
}
