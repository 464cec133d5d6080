import { z } from 'zod'
import { FerryError } from '../errors.js'
import { rememberSecret } from '../log.js'
import { type Challenge, challengeScopes, parseChallenges, pickChallenge } from './auth-challenge.js'
import type { Credential } from './credentials.js'
import { NetworkError } from './network-error.js'
import {
  type Backoff,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  retryLine,
  withRetry,
} from './retry.js'
import { mergeScopes, TokenCache } from './token-cache.js'
import { realmRefusal } from './token-realm.js'
import { displayUrl, header, type RawResponse, readLimited, type Transport } from './transport.js'

/**
 * The registry side of authentication (docker token spec, distribution "token authentication"):
 * requests go anonymous until a registry answers 401; its challenge is remembered per registry and
 * later requests carry a Basic header or a Bearer token obtained for exactly the scopes they need.
 */

const tokenResponseSchema = z.looseObject({
  token: z.string().optional(),
  access_token: z.string().optional(),
  expires_in: z.number().positive().optional(),
  scope: z.string().optional(),
})

// docker token spec, "Token Response Fields" and the JWT's `access` claim: what the token really allows.
const claimsSchema = z.looseObject({
  access: z.array(z.looseObject({ type: z.string(), name: z.string(), actions: z.array(z.string()) })),
})

/**
 * The scopes a token was granted: the JWT's `access` claim, else an OAuth2 `scope` field, else
 * undefined (an opaque token: taken to grant what was asked).
 */
function grantedScopes(token: string, scope: string | undefined): string[] | undefined {
  const payload = token.split('.')[1]
  if (payload) {
    try {
      const claims = claimsSchema.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')))
      if (claims.success) return claims.data.access.map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`)
    } catch {
      // Not a JWT: opaque tokens are allowed.
    }
  }
  return scope === undefined ? undefined : scope.split(' ').filter(Boolean)
}

/** Seconds a token lives when the server does not say (docker token spec). */
const DEFAULT_TOKEN_SECONDS = 60

export type CredentialSource = (registry: string, repository?: string) => Promise<Credential | undefined>

/** The repository a request is for, from its first `repository:NAME:ACTIONS` scope. */
function repositoryOf(scopes: readonly string[]): string | undefined {
  for (const s of scopes) {
    const m = /^repository:([^:]+):/.exec(s)
    if (m) return m[1]
  }
  return undefined
}

/** Whether a token request with `cred` carries a secret (an identity token, or a username and password). */
const sendsSecret = (cred: Credential | undefined): boolean =>
  !!cred?.identityToken || (!!cred?.username && cred.password !== undefined)

/** A token service answer worth another try (429, 5xx); its body is already read. */
class TokenServiceBusy extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`token service answered HTTP ${status}`)
  }
}

export class Authenticator {
  private readonly challenges = new Map<string, Challenge>()
  private readonly tokens = new TokenCache()
  private readonly creds = new Map<string, Promise<Credential | undefined>>()

  /** @param allowedRealms realm hosts (`HOST[:PORT]`) credentials may go to besides the registry's domain. */
  constructor(
    private readonly transport: Transport,
    private readonly source: CredentialSource,
    private readonly policy: RetryPolicy,
    private readonly allowedRealms: readonly string[] = [],
  ) {}

  /** Per registry and repository: podman's auth files may hold credentials for `HOST/NAMESPACE`. */
  private credential(registry: string, scopes: readonly string[] = []): Promise<Credential | undefined> {
    const repository = repositoryOf(scopes)
    const key = `${registry} ${repository ?? ''}`
    let p = this.creds.get(key)
    if (!p) {
      // Whatever secret is in play is redacted from every message, even echoed in a registry's own words.
      p = this.source(registry, repository).then((c) => {
        rememberSecret(c?.password)
        rememberSecret(c?.identityToken)
        return c
      })
      this.creds.set(key, p)
      // A failed lookup (helper missing, bad config) is reported now and looked up again next time.
      p.catch(() => this.creds.delete(key))
    }
    return p
  }

  /**
   * The Authorization value for a request, or undefined while the registry has asked for none. A token
   * fetched for it draws its retries from `budget`, the request's own (http.ts).
   */
  async authorization(
    registry: string,
    scopes: string[],
    fresh = false,
    budget?: Backoff,
  ): Promise<string | undefined> {
    const challenge = this.challenges.get(registry)
    if (!challenge) return undefined
    const cred = await this.credential(registry, scopes)
    if (challenge.scheme === 'basic') {
      if (!cred?.username || cred.password === undefined) return undefined
      return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
    }
    if (fresh) this.tokens.invalidate(registry, scopes)
    const token = await this.tokens.obtain(registry, scopes, () =>
      this.fetchToken(registry, challenge, scopes, cred, budget),
    )
    return `Bearer ${token}`
  }

  /**
   * Records the challenge of a 401. Returns the scopes to retry with, or undefined when another try
   * cannot succeed (Basic and no or already-refused credentials, an unknown scheme).
   */
  async onUnauthorized(registry: string, res: RawResponse, scopes: string[], sentAuth: boolean) {
    const challenge = pickChallenge(parseChallenges(res.headers['www-authenticate']))
    if (!challenge) return undefined
    this.challenges.set(registry, challenge)
    if (challenge.scheme === 'basic') {
      const cred = await this.credential(registry, scopes)
      return !sentAuth && cred?.username ? scopes : undefined
    }
    return mergeScopes(scopes, challengeScopes(challenge))
  }

  /** Whether the registry is known to want credentials we do not have (for error messages). */
  async hasCredential(registry: string): Promise<boolean> {
    const c = await this.credential(registry)
    return !!(c?.username || c?.identityToken)
  }

  private async fetchToken(
    registry: string,
    ch: Challenge,
    scopes: string[],
    cred: Credential | undefined,
    budget: Backoff | undefined,
  ) {
    const realm = ch.params.realm
    if (!realm) throw new FerryError('UNAUTHORIZED', `${registry}: Bearer challenge without a realm`)
    let url: URL
    try {
      url = new URL(realm)
    } catch {
      throw new FerryError('UNAUTHORIZED', `${registry}: Bearer challenge with an invalid realm`)
    }
    if (sendsSecret(cred)) {
      // Checked before the first request: a refused realm never sees the credentials (token-realm.ts).
      const refusal = realmRefusal(this.transport.baseUrl(registry), url, this.allowedRealms)
      if (refusal) {
        const fix = refusal.allowable
          ? `if you trust it, allow it with --allow-token-realm ${url.host} (or FERRY_ALLOW_TOKEN_REALM)`
          : 'a token service that takes credentials must be reached over https'
        throw new FerryError(
          'UNAUTHORIZED',
          `${registry}: credentials not sent to token realm ${displayUrl(url, false)}: ${refusal.reason}; ${fix}`,
        )
      }
    }
    const refused = (status: number) => {
      const code = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'DENIED' : 'REGISTRY'
      const who = cred?.username
        ? `as ${cred.username}`
        : cred?.identityToken
          ? 'with an identity token'
          : 'anonymously'
      return new FerryError(
        code,
        `${registry}: token service ${url.host} refused a token ${who} for ${scopes.join(' ') || 'registry access'} (HTTP ${status})`,
      )
    }
    let res: RawResponse
    try {
      res = await withRetry(
        budget ?? this.policy,
        async () => {
          const res = await this.tokenRequest(url, ch, scopes, cred)
          if (res.status === 200 || !isRetryableStatus(res.status, true)) return res
          await res.body.dump?.()
          throw new TokenServiceBusy(res.status, parseRetryAfter(header(res, 'retry-after')))
        },
        {
          classify: (err) =>
            err instanceof TokenServiceBusy
              ? { reason: `HTTP ${err.status}`, retryAfterMs: err.retryAfterMs }
              : err instanceof NetworkError && err.transient
                ? { reason: err.errno }
                : undefined,
          onRetry: (e) => this.transport.log(retryLine(`token request for ${registry}`, e)),
        },
      )
    } catch (err) {
      throw err instanceof TokenServiceBusy ? refused(err.status) : err
    }
    if (res.status !== 200) {
      await res.body.dump?.()
      throw refused(res.status)
    }
    const text = await readLimited(res, 1024 * 1024)
    let parsed: z.infer<typeof tokenResponseSchema> | undefined
    try {
      parsed = tokenResponseSchema.parse(JSON.parse(text))
    } catch {
      parsed = undefined
    }
    const token = parsed?.token || parsed?.access_token
    if (!token) throw new FerryError('UNAUTHORIZED', `${registry}: token service ${url.host} sent no token`)
    rememberSecret(token)
    return {
      token,
      expiresIn: parsed?.expires_in ?? DEFAULT_TOKEN_SECONDS,
      granted: grantedScopes(token, parsed?.scope),
    }
  }

  private tokenRequest(realm: URL, ch: Challenge, scopes: string[], cred?: Credential): Promise<RawResponse> {
    const service = ch.params.service
    if (cred?.identityToken) {
      // OAuth2 refresh-token grant (docker token spec, "oauth.md").
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: cred.identityToken,
        client_id: 'ferry',
      })
      if (service) form.set('service', service)
      if (scopes.length) form.set('scope', scopes.join(' '))
      return this.transport.send({
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      })
    }
    const url = new URL(realm)
    if (service) url.searchParams.set('service', service)
    for (const s of scopes) url.searchParams.append('scope', s)
    const headers: Record<string, string> = {}
    if (cred?.username && cred.password !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`
    }
    return this.transport.send({ method: 'GET', url, headers })
  }
}
