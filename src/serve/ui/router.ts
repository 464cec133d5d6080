import { isFerryError } from '../../errors.js'
import { type Digest, isDigest } from '../../oci/digest.js'
import type { ServeContext } from '../context.js'
import { ApiError, toApiError } from '../errors.js'
import type { Req, Res } from '../http.js'
import type { RequestInfo } from '../observe/request.js'
import { COPY_JS, FAVICON_SVG, STYLE_CSS } from './assets.js'
import { type Html, html } from './html.js'
import { UiNotFound } from './not-found.js'
import { page, type Shell } from './page.js'
import { auditPage } from './pages/audit.js'
import { cachePage } from './pages/cache.js'
import { imagePage, sbomDownload } from './pages/image.js'
import { repositoriesPage } from './pages/repositories.js'
import { tagsPage } from './pages/tags.js'

export type UiRoute =
  | { page: 'home' }
  | { page: 'repositories' }
  | { page: 'tags'; name: string }
  | { page: 'audit'; name: string }
  | { page: 'image'; name: string; tag?: string; digest?: Digest }
  | { page: 'sbom'; name: string; digest: Digest }
  | { page: 'cache' }
  | { page: 'static'; file: keyof typeof STATIC }

/** The UI's files, with their types. */
const STATIC = {
  'ui.css': { type: 'text/css; charset=utf-8', body: STYLE_CSS },
  'copy.js': { type: 'text/javascript; charset=utf-8', body: COPY_JS },
  'favicon.svg': { type: 'image/svg+xml', body: FAVICON_SVG },
}

/** Route templates, for the metrics' route label. */
const TEMPLATES: Record<UiRoute['page'], string> = {
  home: '/',
  repositories: '/ui/',
  tags: '/ui/repo/{name}',
  audit: '/ui/audit/{name}',
  image: '/ui/repo/{name}:{tag}|@{digest}',
  sbom: '/ui/sbom/{name}@{digest}',
  cache: '/ui/cache',
  static: '/ui/static/{file}',
}

export const isUiPath = (path: string): boolean => path === '/ui' || path.startsWith('/ui/')

/** The metrics' route label of a UI path, known before authentication (a refused login is counted by page too). */
export function uiRouteTemplate(path: string): string | undefined {
  try {
    return TEMPLATES[parseUiPath(path).page]
  } catch {
    return undefined
  }
}

/**
 * Security headers of every UI answer. The CSP allows the UI's own style sheet and script and nothing
 * else: no inline script or style, no frames, no form posting elsewhere; what a pusher wrote can at most
 * be text on the page (html.ts escapes it).
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
}

// Names in a cache root carry the upstream's host (`127.0.0.1:5000/team/app`); tags and digests their own.
const UI_PATH_RE = /^[A-Za-z0-9._\-/:@]*$/

export function parseUiPath(path: string): UiRoute {
  if (path === '/' || path === '/ui') return { page: 'home' }
  if (path === '/ui/') return { page: 'repositories' }
  if (path === '/ui/cache') return { page: 'cache' }
  const file = /^\/ui\/static\/(.+)$/.exec(path)?.[1]
  if (file !== undefined && Object.hasOwn(STATIC, file))
    return { page: 'static', file: file as keyof typeof STATIC }
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    throw new UiNotFound('not a valid path')
  }
  if (!UI_PATH_RE.test(decoded)) throw new UiNotFound('no such page')
  const sbom = /^\/ui\/sbom\/(.+)@([^@]+)$/.exec(decoded)
  if (sbom && isDigest(sbom[2]!)) return { page: 'sbom', name: sbom[1]!, digest: sbom[2] as Digest }
  const audited = /^\/ui\/audit\/(.+?)\/?$/.exec(decoded)?.[1]
  if (audited) return { page: 'audit', name: audited }
  const repo = /^\/ui\/repo\/(.+)$/.exec(decoded)?.[1]?.replace(/\/$/, '')
  if (!repo) throw new UiNotFound('no such page')
  const at = repo.lastIndexOf('@')
  if (at > 0) {
    const digest = repo.slice(at + 1)
    if (!isDigest(digest)) throw new UiNotFound(`not a digest: ${digest}`)
    return { page: 'image', name: repo.slice(0, at), digest }
  }
  // A tag holds no `/`: `127.0.0.1:5000/team/app` is a repository, `team/app:1.0` a tag of one.
  const colon = repo.lastIndexOf(':')
  if (colon > 0 && !repo.slice(colon + 1).includes('/')) {
    return { page: 'image', name: repo.slice(0, colon), tag: repo.slice(colon + 1) }
  }
  return { page: 'tags', name: repo }
}

export function sendHtml(res: Res, method: string, status: number, body: Html): void {
  const bytes = Buffer.from(body.text)
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': bytes.byteLength,
  })
  res.end(method === 'HEAD' ? undefined : bytes)
}

export function shellOf(ctx: ServeContext): Shell {
  return { registry: ctx.names[0] ?? '', mirror: ctx.mirror !== undefined }
}

/** The UI: read-only HTML pages over what the registry serves (docs/serving.md "The web UI"). */
export async function handleUi(ctx: ServeContext, req: Req, res: Res, info: RequestInfo): Promise<void> {
  const method = req.method ?? 'GET'
  if (method !== 'GET' && method !== 'HEAD') {
    throw new ApiError('UNSUPPORTED', `${method} is not supported here: the UI is read-only`, {
      headers: { Allow: 'GET, HEAD' },
    })
  }
  const url = new URL(req.url ?? '/', 'http://ui.invalid')
  const shell = shellOf(ctx)
  try {
    const route = parseUiPath(url.pathname)
    info.route = TEMPLATES[route.page]
    if ('digest' in route && route.digest) info.digest = route.digest
    switch (route.page) {
      case 'home':
        res.writeHead(302, { ...SECURITY_HEADERS, Location: '/ui/', 'Content-Length': 0 })
        return void res.end()
      case 'static': {
        const { type, body: text } = STATIC[route.file]
        const body = Buffer.from(text)
        res.writeHead(200, {
          ...SECURITY_HEADERS,
          'Cache-Control': 'max-age=300',
          'Content-Type': type,
          'Content-Length': body.byteLength,
        })
        return void res.end(method === 'HEAD' ? undefined : body)
      }
      case 'repositories':
        return sendHtml(res, method, 200, await repositoriesPage(ctx, shell, url.searchParams))
      case 'tags':
        return sendHtml(res, method, 200, await tagsPage(ctx, shell, route.name, url.searchParams))
      case 'audit':
        return sendHtml(res, method, 200, await auditPage(ctx, shell, route.name))
      case 'image':
        return sendHtml(res, method, 200, await imagePage(ctx, shell, route))
      case 'sbom':
        return await sbomDownload(ctx, res, method, route.name, route.digest, SECURITY_HEADERS)
      case 'cache':
        return sendHtml(res, method, 200, await cachePage(ctx, shell, url.searchParams))
    }
  } catch (err) {
    if (res.headersSent) throw err
    if (err instanceof UiNotFound || isFerryError(err, 'NOT_FOUND')) {
      return sendHtml(res, method, 404, errorPage(shell, 'Not found', err.message))
    }
    const api = toApiError(err)
    // The details of a server-side failure go to the operator's log, not to the page.
    if (api.status >= 500) ctx.logger.warn(`UI ${url.pathname}: ${(err as Error).message}`)
    const shown = api.status >= 500 ? 'The page could not be built; the server log says why.' : api.message
    return sendHtml(res, method, api.status, errorPage(shell, 'Something went wrong', shown))
  }
}

function errorPage(shell: Shell, title: string, message: string): Html {
  return page(
    shell,
    title,
    html`<h1>${title}</h1><p>${message}</p><p><a href="/ui/">All repositories</a></p>`,
  )
}
