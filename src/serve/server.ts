import type { KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Server as NetServer } from 'node:net'
import { FerryError } from '../errors.js'
import { OciLayout } from '../layout/index.js'
import { type Logger, silentLogger } from '../log.js'
import type { ProgressSink } from '../progress.js'
import { plural } from '../util/plural.js'
import { loadHtpasswd } from './auth.js'
import type { ServedBundle } from './bundle-store.js'
import type { ServeContext } from './context.js'
import { ServeGc, type ServeGcOptions } from './gc.js'
import { createHandler } from './handler.js'
import { ServeLedger, type ServeLedgerOptions } from './ledger.js'
import type { AccessLogSink } from './observe/request.js'
import { ServerMetrics } from './observe/server-metrics.js'
import { defaultServeNames, parseServeName } from './policy/names.js'
import { type PolicyReload, ServePolicy } from './policy/serve-policy.js'
import { Membership } from './reachable.js'
import { bareRepositoryName, type ContentStore, layoutStore } from './store.js'
import {
  applyTimeouts,
  checkingIntervalMs,
  resolveTimeouts,
  type ServeTimeouts,
  watchBody,
} from './timeouts.js'
import { tlsFront } from './tls-front.js'
import { DEFAULT_UPLOAD_LIMITS, UploadStore } from './uploads.js'
import { Mirror, type MirrorOptions } from './upstream/mirror.js'
import { WriteGate } from './write-gate.js'

export interface ServeOptions {
  /**
   * The OCI image layout directory served; created (as an empty layout) when missing, unless read-only.
   * Exactly one of `root` and `bundle`.
   */
  root?: string
  /**
   * A bundle file (FILE.tar, a split bundle's FILE.000 or FILE.parts.json) served read-only from where it
   * lies, without unpacking: verified in one pass before the server listens (any failure refuses to
   * start), then every blob is read at its offset. Repositories are the bundle's source names.
   */
  bundle?: string
  /**
   * With `root`: the repository name for tags without a repository (skopeo's `oci:DIR:TAG`). Default: the
   * directory's base name, when it is a valid repository name.
   */
  repository?: string
  /** With `bundle`: check the bundle's signature with this public key; start only if it verifies. */
  publicKey?: KeyObject
  /** With `bundle`: the start-up verifying pass (phase `verify`). */
  progress?: ProgressSink
  /** Address to bind. Default 127.0.0.1; anything reachable from elsewhere warns unless TLS and htpasswd are set. */
  address?: string
  /** Default 5000; 0 picks a free port (read it back from the result). */
  port?: number
  /** Refuse every write with 405 UNSUPPORTED. Default false. */
  readOnly?: boolean
  /** PEM certificate (chain) and private key files; serves HTTPS when set. */
  tls?: { cert: string; key: string }
  /** htpasswd file of bcrypt lines; every request then needs Basic credentials from it. */
  htpasswd?: string
  /** Request lines (debug) and warnings. Default silent. */
  logger?: Logger
  /** An upload session idle this long is dropped with its data. Default 15 minutes. */
  uploadTimeoutMs?: number
  /** Open upload sessions allowed at once, in all and per client address; past them POST answers 429. */
  maxUploadSessions?: number
  maxUploadSessionsPerClient?: number
  /** On close, how long in-flight requests may take to finish before their connections are cut. Default 10 s. */
  shutdownTimeoutMs?: number
  /** Header, request and idle deadlines for clients (see ServeTimeouts for the defaults). */
  timeouts?: ServeTimeouts
  /**
   * With `root`: serve as a pull-through cache of these upstream registries (read-only: every write is
   * 405 UNSUPPORTED). See docs/serving.md "A pull-through cache".
   */
  upstream?: MirrorOptions
  /**
   * With a writable `root`: collect garbage every `intervalMs` (`ferry gc` in the server), between its
   * writes (serve/gc.ts). Refused with read-only, a bundle or `upstream` (the cache evicts by its own rules).
   */
  gc?: ServeGcOptions
  /**
   * Enforce a policy file on every client: pushes and deletes against its naming, tag, immutability and
   * label rules, pulls against its signature and SBOM rules (docs/governance.md "Governance that holds").
   */
  policy?: ServePolicyOptions
  /**
   * The names clients reach this registry by (`registry.intra`, `registry.intra:5443`): the UI's pinned
   * references use the first, its ledger history matches records under any, and a policy without names
   * of its own matches its globs with them. Default: the listen address and `localhost:PORT`.
   */
  names?: string[]
  /** The web UI at /ui/ (read-only, behind the same authentication and TLS). Default off; the CLI turns it on. */
  ui?: boolean
  /**
   * A ledger (src/ledger) the registry appends one record to per manifest write or delete it accepts or
   * the policy refuses, and per pull the policy refuses; the UI's tag pages show its records. Default: the
   * policy file's `ledger:`.
   */
  ledger?: string
  /** With a ledger: signed checkpoints (a signer) and the version records carry. */
  ledgerRecords?: Omit<ServeLedgerOptions, 'file'>
  /** One line per request, in this format, to `write`. Default none. */
  accessLog?: AccessLogSink
  /** `/metrics` without credentials even with `htpasswd`. Default false. */
  metricsPublic?: boolean
}

export interface ServePolicyOptions {
  /** The policy file (ferry.policy.yaml); it must load, with its keys, or the server does not start. */
  file: string
  /**
   * The names clients reach this registry by (`registry.intra`, `registry.intra:5443`), which the
   * policy's repository globs are matched with as `NAME/REPO`. Default: the listen address as clients
   * write it (`127.0.0.1:5000`) and `localhost:PORT`.
   */
  names?: string[]
}

export interface RunningServer {
  /** `http://127.0.0.1:5000` (https with TLS); a wildcard bind is reported as loopback. */
  url: string
  /** `127.0.0.1:5000`: the registry host as it appears in image references. */
  host: string
  port: number
  /** When serving a bundle: what it holds, under the names clients use. */
  bundle?: ServedBundle
  /** With a policy: its file, the names its globs are matched with, and a reload (what SIGHUP does). */
  policy?: { file: string; names: readonly string[]; reload(): Promise<PolicyReload> }
  /** With a ledger: its file. */
  ledger?: string
  /**
   * Stops accepting, lets in-flight requests finish (bounded), then removes unfinished uploads and closes
   * the bundle. Idempotent.
   */
  close(): Promise<void>
}

const DEFAULT_UPLOAD_TIMEOUT_MS = 15 * 60 * 1000
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000

export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase()
  return a === 'localhost' || a === '::1' || /^(?:::ffff:)?127(?:\.\d{1,3}){3}$/.test(a)
}

function hostFor(address: string, port: number): string {
  // A wildcard bind is reachable on loopback too, and 0.0.0.0 is no address to connect to.
  const shown = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address
  return shown.includes(':') ? `[${shown}]:${port}` : `${shown}:${port}`
}

async function readPem(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw new FerryError('USAGE', `TLS ${what} file ${path}: ${(err as Error).message}`)
  }
}

function listen(server: NetServer, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(
        new FerryError('USAGE', `cannot listen on ${hostFor(address, port)}: ${err.code ?? err.message}`),
      )
    }
    server.once('error', onError)
    server.listen(port, address, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/**
 * Serves an OCI image layout directory, or a bundle file read-only, as an OCI distribution registry (see
 * docs/serving.md "ferry serve").
 */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const logger = opts.logger ?? silentLogger
  const address = opts.address ?? '127.0.0.1'
  const port = opts.port ?? 5000
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FerryError('USAGE', `invalid port ${port}: expected 0-65535`)
  }
  if ((opts.root === undefined) === (opts.bundle === undefined)) {
    throw new FerryError('USAGE', 'serve needs exactly one of a layout root and a bundle file')
  }
  // A bundle is evidence: it is never written to.
  // A mirror takes content only from upstream, as distribution's proxy does.
  const readOnly = opts.bundle !== undefined || opts.upstream !== undefined || (opts.readOnly ?? false)
  if (opts.upstream && !opts.root)
    throw new FerryError('USAGE', '--upstream needs --root (the cache directory)')
  if (opts.gc && (readOnly || !opts.root)) {
    throw new FerryError(
      'USAGE',
      '--gc-interval collects a writable --root; not with --read-only, --bundle or --upstream (a cache evicts by --cache-max-size and --cache-max-age)',
    )
  }
  const timeouts = resolveTimeouts(opts.timeouts)
  const auth = opts.htpasswd ? await loadHtpasswd(opts.htpasswd) : undefined
  const names = (opts.policy?.names ?? opts.names)?.map(parseServeName)
  const policy = opts.policy && (await ServePolicy.open(opts.policy.file, names, logger))
  const ledgerFile = opts.ledger ?? policy?.policy.ledger
  if (opts.ledgerRecords?.signer && ledgerFile === undefined)
    throw new FerryError(
      'USAGE',
      '--ledger-key signs the ledger: give --ledger FILE (or ledger: in the policy)',
    )
  const ledger =
    ledgerFile === undefined
      ? undefined
      : new ServeLedger({ ...opts.ledgerRecords, file: ledgerFile }, logger)
  const tls = opts.tls && {
    cert: await readPem(opts.tls.cert, 'certificate'),
    key: await readPem(opts.tls.key, 'key'),
  }
  // After the cheap checks: a bundle's verifying pass can take minutes, a typo in a flag should not.
  const { store, layout, bundle } = await openStore(opts, readOnly && !opts.upstream, logger)
  if (!isLoopbackAddress(address) && !(tls && auth)) {
    const missing = [tls ? '' : 'TLS', auth ? '' : 'authentication (--htpasswd)'].filter(Boolean).join(' or ')
    logger.warn(
      `listening on ${address}, beyond loopback, without ${missing}: anyone who can reach it can ` +
        `read${readOnly ? '' : ' and write'} every repository in ${store.name}`,
    )
  }
  const uploads =
    readOnly || !layout
      ? undefined
      : await UploadStore.open(layout.dir, opts.uploadTimeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS, logger, {
          total: opts.maxUploadSessions ?? DEFAULT_UPLOAD_LIMITS.total,
          perClient: opts.maxUploadSessionsPerClient ?? DEFAULT_UPLOAD_LIMITS.perClient,
        })
  const mirror = opts.upstream && layout ? await Mirror.open(layout, opts.upstream, logger) : undefined
  const members = new Membership(store, { trackFound: opts.gc !== undefined })
  const gate = opts.gc ? new WriteGate() : undefined
  const ctx: ServeContext = {
    store,
    layout,
    uploads,
    readOnly,
    auth,
    logger,
    members,
    mirror,
    policy,
    ledger,
    gate,
    names: names ?? [],
    metrics: new ServerMetrics({ uploads, mirror, policy }),
    accessLog: opts.accessLog,
    metricsPublic: opts.metricsPublic ?? false,
    ui: opts.ui ? { ledger: ledgerFile } : undefined,
  }
  const gc = opts.gc && layout && gate ? new ServeGc(layout, members, gate, opts.gc, logger) : undefined
  const handler = createHandler(ctx)
  const serverOptions = { connectionsCheckingInterval: checkingIntervalMs(timeouts) }
  // A TLS handshake counts against the header deadline too: it comes before the first header byte.
  const server: Server = tls
    ? createHttpsServer({ ...tls, ...serverOptions, handshakeTimeout: timeouts.headersMs }, handler)
    : createHttpServer(serverOptions, handler)
  applyTimeouts(server, timeouts)
  // With TLS the port is the front's: it hands TLS connections to `server` and answers plain HTTP itself.
  const front = tls ? tlsFront(server, timeouts.headersMs) : undefined
  const listener = front?.listener ?? server

  let active = 0
  let idle: (() => void) | undefined
  server.on('request', (req, res) => {
    watchBody(req, timeouts, logger)
    active++
    res.once('close', () => {
      active--
      if (active === 0) idle?.()
    })
  })

  try {
    await listen(listener, port, address)
  } catch (err) {
    await uploads?.closeAll()
    await mirror?.close()
    await store.close()
    throw err
  }
  const bound = (listener.address() as AddressInfo).port
  const host = hostFor(address, bound)
  policy?.listening(host, bound)
  gc?.start()
  if (ctx.names.length === 0) ctx.names = defaultServeNames(host, bound)
  // Records name images as users reach them: the first --name, else the listen address.
  if (ledger) ledger.host = ctx.names[0] ?? host

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()))
      // Behind a front, `server` never listened: closing it only stops its timers and idle connections.
      if (front) server.close()
      server.closeIdleConnections()
      if (active > 0) {
        const graceMs = opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS
        let timer: NodeJS.Timeout | undefined
        await Promise.race([
          new Promise<void>((resolve) => {
            idle = resolve
          }),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, graceMs)
          }),
        ])
        clearTimeout(timer)
        if (active > 0)
          logger.warn(`shutting down with ${plural(active, 'request')} still running; cutting them off`)
      }
      server.closeAllConnections()
      front?.destroyPending()
      await closed
      await gc?.stop()
      await uploads?.closeAll()
      await mirror?.close()
      await store.close()
      // Last: every request that could still record has ended.
      await ledger?.close()
    })()
    return closing
  }

  return {
    url: `${tls ? 'https' : 'http'}://${host}`,
    host,
    port: bound,
    bundle,
    ...(policy && {
      policy: { file: policy.file, names: policy.registryNames, reload: () => policy.reload() },
    }),
    ...(ledger && { ledger: ledger.file }),
    close,
  }
}

async function openStore(
  opts: ServeOptions,
  readOnly: boolean,
  logger: Logger,
): Promise<{ store: ContentStore; layout?: OciLayout; bundle?: ServedBundle }> {
  if (opts.root !== undefined) {
    const bareName = bareRepositoryName(opts.root, opts.repository)
    const layout = await OciLayout.open(opts.root, { create: !readOnly, logger })
    return { store: layoutStore(layout, bareName), layout }
  }
  // Loaded only for a bundle: a layout server has no use for the bundle reader.
  const { BundleStore } = await import('./bundle-store.js')
  const store = await BundleStore.open(opts.bundle!, {
    publicKey: opts.publicKey,
    progress: opts.progress,
    logger,
  })
  try {
    return { store, bundle: await store.describe() }
  } catch (err) {
    await store.close()
    throw err
  }
}
