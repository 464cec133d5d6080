import { z } from 'zod'
import { FerryError } from '../errors.js'
import { silentLogger } from '../log.js'
import { Authenticator, type CredentialSource } from './auth.js'
import { newClientShared } from './context.js'
import { lookupCredential } from './credentials.js'
import { isDockerHub } from './hosts.js'
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

// distribution spec, "Pulling manifests": path components of lower-case alphanumerics and separators.
const REPOSITORY_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/
const REGISTRY_RE = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$/

const catalogSchema = z.looseObject({ repositories: z.array(z.string()).nullish() })

/**
 * The entry point for registries: one connection pool, one token cache and one credential lookup
 * per registry, shared by every repository it hands out. Close it when done.
 */
export class RegistryClient {
  private readonly http: RegistryHttp
  private readonly chunkSize: number
  private readonly shared = newClientShared()

  /** @param credentials replaces the auth file lookup (used by `login` to try credentials first). */
  constructor(opts: RegistryOptions = {}, credentials?: CredentialSource) {
    const logger = opts.logger ?? silentLogger
    const policy = retryPolicy(opts.retry)
    const transport = new Transport({
      insecure: opts.insecure ?? [],
      plainHttp: opts.plainHttp,
      schemes: opts.schemes,
      caFiles: opts.caFiles ?? [],
      certsDir: opts.certsDir ?? DEFAULT_CERTS_DIR,
      logger,
      userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
      limits: { ...DEFAULT_TRANSFER_LIMITS, ...opts.limits },
    })
    const source =
      credentials ?? ((registry: string, repository?: string) => lookupCredential(registry, opts, repository))
    const perHost = Math.max(1, Math.floor(opts.requestsPerHost ?? DEFAULT_REQUESTS_PER_HOST))
    const auth = new Authenticator(transport, source, policy, opts.allowTokenRealms)
    this.http = new RegistryHttp(transport, auth, policy, perHost)
    this.chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE))
  }

  repository(registry: string, repository: string): RegistryRepository {
    if (!REGISTRY_RE.test(registry))
      throw new FerryError('REFERENCE_INVALID', `invalid registry host "${registry}"`)
    // Docker Hub's official images live under library/ (what `docker pull postgres` means).
    const repo = isDockerHub(registry) && !repository.includes('/') ? `library/${repository}` : repository
    if (!REPOSITORY_RE.test(repo)) {
      throw new FerryError('REFERENCE_INVALID', `invalid repository name "${repository}" on ${registry}`)
    }
    return new RegistryRepository({
      http: this.http,
      registry,
      repository: repo,
      name: `${registry}/${repo}`,
      base: this.http.transport.baseUrl(registry),
      chunkSize: this.chunkSize,
      shared: this.shared,
    })
  }

  /** Every repository name on the registry (`/v2/_catalog`, not in the OCI spec but widely served). */
  catalog(registry: string, opts: { pageSize?: number } = {}): Promise<string[]> {
    if (!REGISTRY_RE.test(registry))
      throw new FerryError('REFERENCE_INVALID', `invalid registry host "${registry}"`)
    const url = new URL('/v2/_catalog', this.http.transport.baseUrl(registry))
    if (opts.pageSize) url.searchParams.set('n', String(opts.pageSize))
    return readPages(
      this.http,
      { registry, url, scopes: ['registry:catalog:*'], subject: registry },
      catalogSchema,
      (doc) => doc.repositories ?? [],
    )
  }

  /** `GET /v2/` through the auth flow: proves the registry is reachable and the credentials accepted. */
  async ping(registry: string): Promise<void> {
    const res = await this.http.request({
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
