import { type Logger, silentLogger } from './log.js'
import { ignoreProgress, type ProgressSink } from './progress.js'
import { RegistryClient, type RegistryOptions } from './registry/index.js'

/**
 * What every operation of one command shares, built once (by the CLI from its global flags, by a
 * library caller with `createContext`) and handed to each library entry, as ggcr's crane fans its
 * options out once: the registry client, the logger, the cancellation signal and where progress goes.
 * Entries never build
 * a client of their own, so both sides of a copy, and every repository a command touches, share one
 * connection pool, one token cache and one credential lookup.
 */
export interface Context {
  /** The registry client, made on first use (a command on layouts and bundles alone never makes one). */
  readonly client: RegistryClient
  /** Receives one debug line per request and decision; never a credential. */
  readonly logger: Logger
  /** Aborted to stop the operation where it is (Ctrl-C); every request the operation makes gets it. */
  readonly signal: AbortSignal | undefined
  /** Receives the operations' progress events (copies, bundles written and verified). */
  readonly progress: ProgressSink
  /** Releases the client (its connections), when it was made here. */
  close(): Promise<void>
}

export interface ContextOptions extends RegistryOptions {
  signal?: AbortSignal
  progress?: ProgressSink
  /** Use this client (the caller closes it) instead of making one from the registry options. */
  client?: RegistryClient
}

/**
 * The one place a registry client is made from settings. `signal` is read when an operation first
 * asks for it, not here: the CLI installs its Ctrl-C handler only for commands that listen.
 */
export function createContext(opts: ContextOptions = {}): Context {
  let made: RegistryClient | undefined
  return {
    get client() {
      if (opts.client) return opts.client
      made ??= new RegistryClient(opts)
      return made
    },
    logger: opts.logger ?? silentLogger,
    get signal() {
      return opts.signal
    },
    progress: opts.progress ?? ignoreProgress,
    async close() {
      const client = made
      made = undefined
      await client?.close()
    },
  }
}
