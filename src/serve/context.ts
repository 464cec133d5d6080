import type { ReadOnlyTarget } from '../content/target.js'
import type { OciLayout } from '../layout/index.js'
import type { Logger } from '../log.js'
import type { Authenticator } from './auth.js'
import { ApiError } from './errors.js'
import type { Req, Res } from './http.js'
import type { ServeLedger } from './ledger.js'
import type { AccessLogSink } from './observe/request.js'
import type { ServerMetrics } from './observe/server-metrics.js'
import type { ServePolicy } from './policy/serve-policy.js'
import type { Membership } from './reachable.js'
import type { Route } from './routes.js'
import type { ContentStore } from './store.js'
import type { UploadStore } from './uploads.js'
import type { Mirror } from './upstream/mirror.js'
import type { WriteGate } from './write-gate.js'

/** What every endpoint handler gets: what it serves and the server's settings. */
export interface ServeContext {
  /** What reads are served from: the layout, or a bundle. */
  store: ContentStore
  /** The layout writes go to; undefined when serving a bundle (read-only). */
  layout: OciLayout | undefined
  /** Undefined when read-only: no upload can start. */
  uploads: UploadStore | undefined
  readOnly: boolean
  auth: Authenticator | undefined
  logger: Logger
  /** Which manifests and blobs each repository holds. */
  members: Membership
  /**
   * With --upstream: every read of the registry API goes through the pull-through cache, one
   * CachingTarget per repository (readTarget); `store` is then the cache root, for the UI.
   */
  mirror?: Mirror
  /** With --policy: what every push, delete and pull is judged by (policy/serve-policy.ts). */
  policy?: ServePolicy
  /** With --ledger: where each manifest write, delete and refused pull is recorded (ledger.ts). */
  ledger?: ServeLedger
  /** With --gc-interval: manifest PUTs and mounts hold it shared, a collection alone (write-gate.ts). */
  gate?: WriteGate
  /**
   * The names clients reach this registry by (`--name`, else the listen address and localhost:PORT),
   * set once listening: pinned references in the UI use the first, ledger records match any.
   */
  names: string[]
  metrics: ServerMetrics
  /** Undefined: no access log. */
  accessLog?: AccessLogSink
  /** `/metrics` answers without credentials even with --htpasswd. */
  metricsPublic: boolean
  /** The web UI at /ui/; undefined when turned off. */
  ui?: UiOptions
}

export interface UiOptions {
  /** A ledger file (promote --ledger, tag --ledger) whose records the tag pages show; read only. */
  ledger?: string
}

export interface Call<R extends Route = Route> {
  ctx: ServeContext
  req: Req
  res: Res
  route: R
  query: URLSearchParams
  /** Who asks, for the ledger: the htpasswd user (or `anonymous`) and the remote address. */
  actor: string
}

export type RouteOf<K extends Route['kind']> = Extract<Route, { kind: K }>

/** The layout a write goes to. Writes never reach a handler when read-only; this guards the invariant. */
export function writableLayout(ctx: ServeContext): OciLayout {
  if (!ctx.layout || ctx.readOnly) throw new ApiError('UNSUPPORTED', 'this registry is read-only')
  return ctx.layout
}

/**
 * The repository a read names, as every read handler reads it: the store's view of it, or with
 * --upstream that repository of the upstream the request picks, read through the cache.
 */
export function readTarget({
  ctx,
  route,
  query,
}: Call<RouteOf<'manifest' | 'tags' | 'referrers'>>): ReadOnlyTarget {
  return ctx.mirror ? ctx.mirror.target(route.name, query) : ctx.store.target(route.name)
}
