import { z } from 'zod'
import { silentLogger } from '../log.js'
import { parseRegistryLocation, type RegistryHost, type RegistryReference } from '../reference/index.js'
import { Authenticator, type CredentialSource } from './auth.js'
import { newClientShared } from './context.js'
import { type Credential, lookupCredential } from './credentials.js'
import { RegistryHttp } from './http.js'
import {
  DEFAULT_CERTS_DIR,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_REQUESTS_PER_HOST,
  DEFAULT_USER_AGENT,
  type RegistryOptions,
} from './options.js'
import { readPages } from './pagination.js'
import { RegistryRepository } from './repository.js'
import { retryPolicy } from './retry.js'
import { DEFAULT_TRANSFER_LIMITS } from './transfer-limits.js'
import { Transport } from './transport.js'

/** A repository as the reference grammar parsed it (a RegistryReference; its tag and digest aside). */
export type RepositoryReference = Pick<RegistryReference, 'registry' | 'repository' | 'scheme'>

const catalogSchema = z.looseObject({ repositories: z.array(z.string()).nullish() })

/**
 * The entry point for registries: one connection pool, one token cache and one credential lookup
 * per registry, shared by every repository it hands out. Close it when done.
 */
export class RegistryClient {
  private readonly http: RegistryHttp
  private readonly chunkSize: number
  private readonly shared = newClientShared()
  private readonly perHost: number
  private readonly allowTokenRealms: string[] | undefined

  /** @param credentials replaces the auth file lookup. */
  constructor(opts: RegistryOptions = {}, credentials?: CredentialSource) {
    const logger = opts.logger ?? silentLogger
    const policy = retryPolicy(opts.retry)
    const transport = new Transport({
      insecure: opts.insecure ?? [],
      plainHttp: opts.plainHttp,
      caFiles: opts.caFiles ?? [],
      certsDir: opts.certsDir ?? DEFAULT_CERTS_DIR,
      logger,
      userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
      limits: { ...DEFAULT_TRANSFER_LIMITS, ...opts.limits },
    })
    const source =
      credentials ?? ((registry: string, repository?: string) => lookupCredential(registry, opts, repository))
    this.perHost = Math.max(1, Math.floor(opts.requestsPerHost ?? DEFAULT_REQUESTS_PER_HOST))
    this.allowTokenRealms = opts.allowTokenRealms
    const auth = new Authenticator(transport, source, policy, this.allowTokenRealms)
    this.http = new RegistryHttp(transport, auth, policy, this.perHost)
    this.chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE))
  }

  /**
   * The repository a parsed reference names (src/reference/location.ts). Nothing is validated or
   * normalised again: `docker.io/library/nginx` arrives whole. A scheme the reference spelled out
   * (`https://HOST/…`) is how this client reaches that host from now on.
   */
  repository(ref: RepositoryReference): RegistryRepository {
    const { registry, repository } = ref
    if (ref.scheme) this.http.transport.spell(registry, ref.scheme)
    return new RegistryRepository({
      http: this.http,
      registry,
      repository,
      name: `${registry}/${repository}`,
      base: this.http.transport.baseUrl(registry),
      chunkSize: this.chunkSize,
      shared: this.shared,
    })
  }

  /** A registry host, parsed (`HOST[:PORT]`, `https://HOST[:PORT]`) when given as text; its scheme kept. */
  private host(given: string | RegistryHost): string {
    const { registry, scheme } = typeof given === 'string' ? parseRegistryLocation(given) : given
    if (scheme) this.http.transport.spell(registry, scheme)
    return registry
  }

  /** Every repository name on the registry (`/v2/_catalog`, not in the OCI spec but widely served). */
  catalog(host: string | RegistryHost, opts: { pageSize?: number } = {}): Promise<string[]> {
    const registry = this.host(host)
    const url = new URL('/v2/_catalog', this.http.transport.baseUrl(registry))
    if (opts.pageSize) url.searchParams.set('n', String(opts.pageSize))
    return readPages(
      this.http,
      { registry, url, scopes: ['registry:catalog:*'], subject: registry },
      catalogSchema,
      (doc) => doc.repositories ?? [],
    )
  }

  /**
   * `GET /v2/` through the auth flow: proves the registry is reachable and the credentials accepted.
   * With `credential`, that one alone is offered (no auth file): `login` checks it before storing it.
   */
  async ping(host: string | RegistryHost, opts: { credential?: Credential } = {}): Promise<void> {
    const registry = this.host(host)
    const { credential } = opts
    // Over this client's transport (TLS, schemes, limits), with an authenticator of its own, so the
    // credential under test never enters this client's token cache.
    const http = credential
      ? new RegistryHttp(
          this.http.transport,
          new Authenticator(
            this.http.transport,
            async () => credential,
            this.http.policy,
            this.allowTokenRealms,
          ),
          this.http.policy,
          this.perHost,
        )
      : this.http
    const res = await http.request({
      registry,
      method: 'GET',
      url: new URL('/v2/', this.http.transport.baseUrl(registry)),
      scopes: [],
      subject: registry,
      expect: [200],
    })
    await res.body.dump?.()
  }

  async close(): Promise<void> {
    await this.http.transport.close()
  }
}
