import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { selfSignedCert } from './self-signed.js'

/**
 * A loopback token service for the distribution registry's `auth: token` mode (docker token spec):
 * checks Basic credentials (or an OAuth2 refresh token), grants actions per requested scope, and
 * issues ES256 JWTs whose `x5c` header carries a self-signed certificate the registry trusts.
 * No real token service runs on loopback without the Internet; this is the smallest faithful one.
 */

export interface TokenRequestRecord {
  method: string
  scopes: string[]
  service?: string
  /** The user the request authenticated as; undefined for anonymous requests. */
  user?: string
  authorization?: string
  at: number
}

export interface TokenServerOptions {
  service: string
  users: Record<string, string>
  /** Anonymous requests get `pull` (default true). */
  anonymousPull?: boolean
  /** `expires_in` told to clients, in seconds (default 300). Undefined in the answer when null. */
  expiresIn?: number | null
  /** Answer with `access_token` instead of `token`. */
  accessTokenField?: boolean
  /** OAuth2 refresh tokens accepted by POST, to user names. */
  refreshTokens?: Record<string, string>
  /** The loopback address to listen on (default 127.0.0.1): another host to a registry on 127.0.0.1. */
  address?: string
  /** Serve HTTPS with this key and certificate (PEM files; see self-signed.ts). */
  tls?: { keyFile: string; certFile: string }
}

export interface TokenServer {
  realm: string
  service: string
  issuer: string
  /** PEM of the signing certificate, for the registry's rootcertbundle. */
  rootCertBundle: string
  requests: TokenRequestRecord[]
  /** Every token handed out, for asserting it appears nowhere it should not. */
  issued: string[]
  options: TokenServerOptions
  stop(): Promise<void>
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url')

function basicUser(req: IncomingMessage, users: Record<string, string>): string | undefined | false {
  const h = req.headers.authorization
  if (!h) return undefined
  const m = /^Basic (.+)$/i.exec(h)
  if (!m) return false
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  const user = decoded.slice(0, i)
  return i > 0 && users[user] === decoded.slice(i + 1) ? user : false
}

async function body(req: IncomingMessage): Promise<string> {
  let s = ''
  for await (const c of req) s += c
  return s
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-token-'))
  const { keyFile, certFile } = selfSignedCert(dir, { cn: 'ferry test token issuer' })
  const key = createPrivateKey(readFileSync(keyFile))
  const certPem = readFileSync(certFile, 'utf8')
  rmSync(dir, { recursive: true, force: true })
  const x5c = [new X509Certificate(certPem).raw.toString('base64')]
  const issuer = 'ferry-test-issuer'
  const requests: TokenRequestRecord[] = []
  const issued: string[] = []

  const issue = (user: string | undefined, scopes: string[]) => {
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':')
      const actions = rest.pop()?.split(',') ?? []
      const name = rest.join(':')
      const granted = user
        ? actions
        : options.anonymousPull === false
          ? []
          : actions.filter((a) => a === 'pull')
      return granted.length ? [{ type, name, actions: granted }] : []
    })
    const now = Math.floor(Date.now() / 1000)
    const header = { alg: 'ES256', typ: 'JWT', x5c }
    const claims = {
      iss: issuer,
      sub: user ?? '',
      aud: options.service,
      exp: now + 600,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    }
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    const token = `${input}.${b64url(sig)}`
    issued.push(token)
    const answer: Record<string, unknown> = {
      [options.accessTokenField ? 'access_token' : 'token']: token,
      issued_at: new Date().toISOString(),
    }
    const expiresIn = options.expiresIn === undefined ? 300 : options.expiresIn
    if (expiresIn !== null) answer.expires_in = expiresIn
    return answer
  }

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const reply = (status: number, doc: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(doc))
    }
    if (req.method === 'POST') {
      const form = new URLSearchParams(await body(req))
      const user = options.refreshTokens?.[form.get('refresh_token') ?? '']
      const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean)
      requests.push({
        method: 'POST',
        scopes,
        service: form.get('service') ?? undefined,
        user,
        at: Date.now(),
      })
      if (form.get('grant_type') !== 'refresh_token' || !user) return reply(401, { error: 'invalid_grant' })
      return reply(200, issue(user, scopes))
    }
    const scopes = url.searchParams
      .getAll('scope')
      .flatMap((s) => s.split(' '))
      .filter(Boolean)
    const user = basicUser(req, options.users)
    requests.push({
      method: 'GET',
      scopes,
      service: url.searchParams.get('service') ?? undefined,
      user: user || undefined,
      authorization: req.headers.authorization,
      at: Date.now(),
    })
    if (user === false) return reply(401, { details: 'invalid credentials' })
    return reply(200, issue(user, scopes))
  }
  const server: Server = options.tls
    ? createHttpsServer(
        { key: readFileSync(options.tls.keyFile), cert: readFileSync(options.tls.certFile) },
        handler,
      )
    : createServer(handler)
  const address = options.address ?? '127.0.0.1'
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  const { port } = server.address() as AddressInfo
  return {
    realm: `${options.tls ? 'https' : 'http'}://${address}:${port}/token`,
    service: options.service,
    issuer,
    rootCertBundle: certPem,
    requests,
    issued,
    options,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
