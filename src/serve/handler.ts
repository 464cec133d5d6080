import { redact } from '../log.js'
import { deleteBlob, getBlob } from './blobs.js'
import type { Call, RouteOf, ServeContext } from './context.js'
import { ApiError, toApiError } from './errors.js'
import { type Req, type Res, sendError, sendJson } from './http.js'
import { listCatalog, listReferrers, listTags } from './listing.js'
import { deleteManifest, getManifest, putManifest } from './manifests.js'
import { observeRequest, type RequestInfo } from './observe/request.js'
import { parseRequest, ROUTE_TEMPLATES, type Route } from './routes.js'
import { handleUi, isUiPath, uiRouteTemplate } from './ui/router.js'
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './upload-handlers.js'
import { getCachedBlob } from './upstream/blob-handler.js'

type Handler<K extends Route['kind']> = (call: Call<RouteOf<K>>) => Promise<void>
type Table = { [K in Route['kind']]: Partial<Record<string, Handler<K>>> }

async function base({ res }: Call): Promise<void> {
  sendJson(res, 200, {})
}

/** Every endpoint by method; a method missing here is 405 with the Allow list. */
const HANDLERS: Table = {
  base: { GET: base, HEAD: base },
  catalog: { GET: listCatalog, HEAD: listCatalog },
  tags: { GET: listTags, HEAD: listTags },
  manifest: { GET: getManifest, HEAD: getManifest, PUT: putManifest, DELETE: deleteManifest },
  blob: { GET: getBlob, HEAD: getBlob, DELETE: deleteBlob },
  uploads: { POST: startUpload },
  upload: { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload },
  referrers: { GET: listReferrers, HEAD: listReferrers },
}

const isWrite = (method: string) => method !== 'GET' && method !== 'HEAD'
// Longer would only flood the log; a real path is well under this.
const LOGGED_PATH_MAX = 512

/**
 * The request listener: authenticate, route (the registry API, /metrics, the UI), dispatch, answer
 * errors in the spec's JSON, record the request (metrics, access log) and log one line with --debug.
 */
export function createHandler(ctx: ServeContext): (req: Req, res: Res) => void {
  return (req, res) => {
    const started = performance.now()
    const method = req.method ?? 'GET'
    const info = observeRequest(req, res, ctx.metrics, ctx.accessLog)
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0')
    res.once('close', () => {
      // Method, path, status and time only: no headers (Authorization) and no query string.
      const path = redact((req.url ?? '').split('?')[0]!.slice(0, LOGGED_PATH_MAX))
      const ms = (performance.now() - started).toFixed(1)
      const aborted = res.writableFinished ? '' : ' (connection closed early)'
      ctx.logger.debug(`${method} ${path} ${res.statusCode} ${ms}ms${aborted}`)
    })
    void route(ctx, req, res, method, info).catch((err: unknown) => {
      if (res.headersSent) {
        // Mid-stream failure (mostly a client going away): the status is out, only the socket is left.
        res.destroy()
        return
      }
      const apiError = toApiError(err)
      if (apiError.status >= 500) {
        // The answer says only "internal server error"; what failed (files, errno) is for the operator.
        const failure =
          apiError.cause === undefined ? apiError.message : `${apiError.message}: ${String(apiError.cause)}`
        ctx.logger.warn(`${method} ${redact((req.url ?? '').slice(0, LOGGED_PATH_MAX))}: ${redact(failure)}`)
      }
      try {
        sendError(req, res, apiError)
      } catch {
        res.destroy()
      }
    })
  }
}

/** Everything but the registry API: /metrics, and the UI under /ui/ (with / leading there). */
async function route(
  ctx: ServeContext,
  req: Req,
  res: Res,
  method: string,
  info: RequestInfo,
): Promise<void> {
  const path = (req.url ?? '').split('?')[0]!
  if (path === '/metrics') {
    info.route = '/metrics'
    if (!ctx.metricsPublic) await authenticate(ctx, req, info)
    if (method !== 'GET' && method !== 'HEAD') {
      throw new ApiError('UNSUPPORTED', `${method} is not supported here`, {
        headers: { Allow: 'GET, HEAD' },
      })
    }
    const exposition = await ctx.metrics.exposition()
    const body = Buffer.from(exposition.body)
    res.writeHead(200, { 'Content-Type': exposition.contentType, 'Content-Length': body.byteLength })
    res.end(method === 'HEAD' ? undefined : body)
    return
  }
  if (ctx.ui && (path === '/' || isUiPath(path))) {
    info.route = uiRouteTemplate(path) ?? info.route
    await authenticate(ctx, req, info)
    return handleUi(ctx, req, res, info)
  }
  return dispatch(ctx, req, res, method, info)
}

async function authenticate(ctx: ServeContext, req: Req, info: RequestInfo): Promise<void> {
  if (ctx.auth) info.user = await ctx.auth.check(req.headers.authorization)
}

async function dispatch(
  ctx: ServeContext,
  req: Req,
  res: Res,
  method: string,
  info: RequestInfo,
): Promise<void> {
  try {
    info.route = ROUTE_TEMPLATES[parseRequest(method, req.url ?? '').route.kind]
  } catch {
    // Labelled `other`; what is wrong with the path is answered after authentication.
  }
  await authenticate(ctx, req, info)
  const actor = `${info.user ?? 'anonymous'} (${req.socket.remoteAddress ?? 'unknown address'})`
  const { route, query } = parseRequest(method, req.url ?? '')
  if ('digest' in route && route.digest) info.digest = route.digest
  const methods = HANDLERS[route.kind] as Partial<Record<string, Handler<typeof route.kind>>>
  const handler = methods[method]
  if (!handler) {
    throw new ApiError('UNSUPPORTED', `${method} is not supported here`, {
      headers: { Allow: Object.keys(methods).join(', ') },
    })
  }
  // 405 UNSUPPORTED, as distribution answers writes in read-only mode; 403 DENIED would tell the client
  // its credentials lack a permission, which no credentials could change here.
  if (ctx.readOnly && isWrite(method)) {
    throw new ApiError('UNSUPPORTED', 'this registry is read-only', { headers: { Allow: 'GET, HEAD' } })
  }
  await ctx.store.check?.()
  const call = { ctx, req, res, route, query, actor }
  if (ctx.mirror) {
    if (route.kind === 'blob') return getCachedBlob(call as Call<RouteOf<'blob'>>, ctx.mirror)
    if (route.kind === 'upload') {
      throw new ApiError('UNSUPPORTED', 'this registry is a pull-through cache', {
        headers: { Allow: 'GET, HEAD' },
      })
    }
  }
  await handler(call as Call<never>)
}
