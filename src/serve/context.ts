import type { OciLayout } from '../layout/index.js'
import type { Logger } from '../log.js'
import type { Authenticator } from './auth.js'
import type { Req, Res } from './http.js'
import type { ChildCache } from './reachable.js'
import type { Route } from './routes.js'
import type { UploadStore } from './uploads.js'

/** What every endpoint handler gets: the layout it serves and the server's settings. */
export interface ServeContext {
  layout: OciLayout
  /** Undefined when read-only: no upload can start. */
  uploads: UploadStore | undefined
  readOnly: boolean
  auth: Authenticator | undefined
  logger: Logger
  children: ChildCache
}

export interface Call<R extends Route = Route> {
  ctx: ServeContext
  req: Req
  res: Res
  route: R
  query: URLSearchParams
}

export type RouteOf<K extends Route['kind']> = Extract<Route, { kind: K }>
