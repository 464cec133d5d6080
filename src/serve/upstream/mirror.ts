import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, type Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { FerryError, isFerryError } from '../../errors.js'
import { INGEST_DIR } from '../../layout/blobs.js'
import type { OciLayout } from '../../layout/index.js'
import { refNameFor } from '../../layout/naming.js'
import type { Logger } from '../../log.js'
import { descriptorOf } from '../../oci/descriptor.js'
import { type Digest, isDigest } from '../../oci/digest.js'
import { childrenOf, type Manifest, parseManifest } from '../../oci/manifest.js'
import type { Descriptor } from '../../oci/schemas.js'
import { isDockerHub, nameWithReference, OFFICIAL_PREFIX } from '../../reference/index.js'
import { RegistryClient, type RegistryRepository } from '../../registry/index.js'
import { siblingTemp } from '../../util/files.js'
import { plural } from '../../util/plural.js'
import { acceptsMediaType } from '../accept.js'
import { sendBlobFile } from '../blobs.js'
import type { Call, RouteOf } from '../context.js'
import { ApiError } from '../errors.js'
import { batchedResponse, sendJson } from '../http.js'
import { recordRequest } from '../ledger.js'
import { referrersFilter, sendReferrers } from '../listing.js'
import type { PolicyView } from '../policy/view.js'
import { CacheIndex } from './cache-index.js'
import { CacheState } from './cache-state.js'
import { CacheStats } from './cache-stats.js'
import { cacheTarget } from './cache-target.js'
import { Eviction, type EvictionLimits } from './eviction.js'
import { GrowingFile } from './growing-file.js'
import { upstreamError, upstreamUnavailable } from './upstream-errors.js'
import type { UpstreamSpec } from './upstreams.js'

export interface MirrorOptions {
  /** The first is the default; `?ns=NAME` (containerd) picks another by name or host. */
  upstreams: UpstreamSpec[]
  /** How long a tag's mapping is served without asking upstream. */
  ttlMs: number
  /** Treat every upstream as insecure (plain HTTP, or TLS without verification). */
  insecure: boolean
  limits: EvictionLimits
  /** Token realm hosts the upstream credentials may go to besides upstream's own domain (token-realm.ts). */
  allowTokenRealms?: string[]
}

/** One cached tag as the UI's cache page shows it. */
export interface CachedTagStatus {
  /** `UPSTREAM/REPOSITORY`, as the cache root's index.json names it. */
  repository: string
  tag: string
  digest: Digest
  /** Of the manifest. */
  size: number
  /** When upstream last confirmed (or gave) the mapping, ms since the epoch. */
  checkedAt: number
  /** When a client last pulled the manifest; undefined when only revalidated. */
  pulledAt?: number
  /** Confirmed longer than the TTL ago. */
  stale: boolean
}

/** Where a request is pulled from: upstream's repository, and its name in the cache record. */
interface Source {
  repo: RegistryRepository
  /** `UPSTREAM/NAME`: what tag keys start with, and what a cached manifest records it came through. */
  key: string
}

interface Flight {
  /** Resolves once the blob is verified and in the store. */
  done: Promise<void>
  /** The bytes as they arrive, for the client that started the download. */
  branch?: PassThrough
  /** Resolves when upstream's answer ended verified (before the store has synced it). */
  verified: Promise<void>
  /** The file the download fills, for clients that join while it runs; undefined once it failed early. */
  file: Promise<GrowingFile | undefined>
}

/** Passes chunks on but the last, which goes only once `done` resolves (and never if it rejects). */
function holdLastUntil(done: Promise<void>): Transform {
  let held: Buffer | undefined
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const previous = held
      held = chunk
      cb(null, previous)
    },
    flush(cb) {
      done.then(
        () => cb(null, held),
        (err: unknown) => cb(err as Error),
      )
    },
  })
}

/**
 * Downloads are shared by digest and size: a client whose repository gives a layer its right size never
 * joins (and fails with) a download started for a repository that gives it a wrong one.
 */
const flightKey = (d: Descriptor) => `${d.digest}/${d.size}`

/**
 * A pull-through cache in front of upstream registries, over the layout at ROOT: manifests and blobs are
 * stored in its blob store as they pass, content by digest is served from there without asking upstream,
 * and tags are asked again (by HEAD) only once their TTL has passed. One upstream GET per blob, however
 * many clients ask for it at once.
 */
export class Mirror {
  private readonly flights = new Map<string, Flight>()

  private constructor(
    private readonly layout: OciLayout,
    private readonly opts: MirrorOptions,
    private readonly client: RegistryClient,
    private readonly state: CacheState,
    private readonly index: CacheIndex,
    private readonly eviction: Eviction,
    /** Hits, misses and traffic since start: `/metrics` and the UI's cache page read them. */
    readonly stats: CacheStats,
    private readonly logger: Logger,
  ) {}

  static async open(layout: OciLayout, opts: MirrorOptions, logger: Logger): Promise<Mirror> {
    if (opts.upstreams.length === 0) throw new FerryError('USAGE', 'a mirror needs at least one --upstream')
    const insecure = opts.upstreams.filter((u) => opts.insecure || u.plainHttp).map((u) => u.host)
    // Few and quick retries: a client is waiting, and a stale mapping can answer when upstream is down.
    const client = new RegistryClient({
      insecure,
      logger,
      allowTokenRealms: opts.allowTokenRealms,
      retry: { attempts: 2, maxElapsedMs: 5000 },
    })
    const state = await CacheState.open(layout.dir, logger)
    const index = new CacheIndex(layout, state, logger)
    index.changed()
    const stats = new CacheStats()
    const eviction = new Eviction(layout, state, opts.limits, logger, stats)
    const mirror = new Mirror(layout, opts, client, state, index, eviction, stats, logger)
    eviction.start()
    return mirror
  }

  async close(): Promise<void> {
    this.eviction.stop()
    await Promise.allSettled([...this.flights.values()].map((f) => f.done))
    await this.index.close()
    await this.state.close()
    await this.client.close()
  }

  async handle(call: Call): Promise<void> {
    const { route } = call
    switch (route.kind) {
      case 'manifest':
        return this.getManifest(call as Call<RouteOf<'manifest'>>)
      case 'blob':
        return this.getBlob(call as Call<RouteOf<'blob'>>)
      case 'tags':
        return this.listTags(call as Call<RouteOf<'tags'>>)
      case 'referrers':
        return this.listReferrers(call as Call<RouteOf<'referrers'>>)
      case 'catalog':
        return sendJson(call.res, 200, { repositories: this.cachedRepositories() })
      default:
        throw new ApiError('UNSUPPORTED', 'this registry is a pull-through cache', {
          headers: { Allow: 'GET, HEAD' },
        })
    }
  }

  private upstreamFor(query: URLSearchParams): UpstreamSpec {
    const ns = query.get('ns')
    const all = this.opts.upstreams
    return (ns && all.find((u) => u.name === ns || u.host === ns)) || all[0]!
  }

  private repository(call: Call<RouteOf<'manifest' | 'blob' | 'tags' | 'referrers'>>): Source {
    const up = this.upstreamFor(call.query)
    // The route's name is grammar-checked (routes.ts); Docker Hub keeps official images under library/.
    const { name } = call.route
    const official = isDockerHub(up.host) && !name.includes('/')
    const repo = this.client.repository({
      registry: up.host,
      repository: official ? `${OFFICIAL_PREFIX}${name}` : name,
    })
    return { repo, key: `${up.name}/${repo.repository}` }
  }

  /** The upstreams as configured (the first is the default) and the tag TTL: what the UI's cache page states. */
  get upstreams(): readonly UpstreamSpec[] {
    return this.opts.upstreams
  }

  get ttlMs(): number {
    return this.opts.ttlMs
  }

  /**
   * Every cached tag, sorted by key, with when upstream last confirmed it and whether that was longer
   * ago than the TTL (the next pull asks upstream again; while upstream is down it is served stale).
   */
  cachedTags(now = Date.now()): CachedTagStatus[] {
    return this.state
      .tags()
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, t]) => {
        const colon = key.lastIndexOf(':')
        return {
          repository: key.slice(0, colon),
          tag: key.slice(colon + 1),
          digest: t.digest as Digest,
          size: t.size,
          checkedAt: t.checkedAt,
          pulledAt: this.state.pulledAt(t.digest),
          stale: now - t.checkedAt >= this.opts.ttlMs,
        }
      })
  }

  private cachedRepositories(): string[] {
    const names = this.state.tagKeys().map((k) => k.slice(k.indexOf('/') + 1, k.lastIndexOf(':')))
    return [...new Set(names)].sort()
  }

  // --- manifests

  private async getManifest(call: Call<RouteOf<'manifest'>>): Promise<void> {
    const { route } = call
    const source = this.repository(call)
    let digest: string
    let hit: boolean
    if (route.digest) {
      digest = route.digest
      hit = await this.hasManifest(digest)
      this.stats[hit ? 'hits' : 'misses'].manifest++
      if (!hit) await this.fetchManifest(source, digest)
      else if (!this.state.holds(source.key, digest)) await this.confirmUpstream(source, digest)
    } else {
      ;({ digest, hit } = await this.resolveTag(source, route.tag!))
      // A tag mapping is kept per repository: upstream gave this digest for this repository's tag.
      this.state.confirm(digest, source.key)
    }
    const cached = this.state.manifest(digest)!
    const bytes = await readFile(this.layout.blobPath(digest as Digest)).catch(() => undefined)
    if (!bytes) throw new ApiError('MANIFEST_UNKNOWN', `manifest ${digest} vanished from the cache`)
    if (call.req.method === 'GET' && call.ctx.policy) {
      await call.ctx.policy
        .admitPull(this.policyView(call, source), digest as Digest, route.tag)
        .catch(async (err: unknown) => {
          await recordRequest(call, { ...route, operation: 'pull', digest }, { err })
          throw err
        })
    }
    this.state.touch(digest)
    if (!acceptsMediaType(call.req.headers.accept, cached.mediaType)) {
      throw new ApiError(
        'MANIFEST_UNKNOWN',
        `manifest ${digest} is ${cached.mediaType}, which Accept excludes`,
      )
    }
    call.res.writeHead(200, {
      'Content-Type': cached.mediaType,
      'Content-Length': bytes.byteLength,
      'Docker-Content-Digest': digest,
      ETag: `"${digest}"`,
    })
    if (call.req.method === 'HEAD') return void call.res.end()
    call.res.end(bytes)
    // A miss's bytes were counted as they came from upstream.
    if (hit) this.stats.bytesFromCache += bytes.byteLength
  }

  /**
   * The repository as `serve --policy` reads it: every read through the cache, as a client's pull would
   * go, so the signatures and SBOMs a verdict rests on are cached too and verify while upstream is down.
   * Asking upstream whether a signature appeared on every pull would cost a manifest GET per cosign tag
   * (Docker Hub counts them): a verdict is kept for the tag TTL instead, as a tag's mapping is.
   */
  private policyView(call: Call<RouteOf<'manifest'>>, source: Source): PolicyView {
    const target = cacheTarget({
      name: source.key,
      manifest: (reference) => this.cachedManifest(source, reference),
      blob: (desc) => this.cachedBlob(source, desc),
      hasBlob: (desc) => this.layout.hasBlob(desc.digest as Digest),
      referrers: (digest) => this.upstreamReferrers(source, digest),
      tags: () => source.repo.listTags(),
    })
    const tagged = async () =>
      this.state.tagsOf(source.key).map((t) => ({ ...t, digest: t.digest as Digest }))
    const ttl = Math.max(this.opts.ttlMs, 1000)
    return {
      repository: call.route.name,
      target,
      tagged,
      indexesHolding: async (digest) => this.state.indexesHolding(source.key, digest) as Digest[],
      evidence: async () => String(Math.floor(Date.now() / ttl)),
    }
  }

  /** A manifest by tag or digest, through the cache (fetched and recorded when missing). */
  private async cachedManifest(source: Source, reference: string): Promise<Manifest> {
    let digest = reference
    if (!isDigest(reference)) digest = (await this.resolveTag(source, reference)).digest
    else if (await this.hasManifest(reference)) this.stats.hits.manifest++
    else {
      this.stats.misses.manifest++
      await this.fetchManifest(source, reference)
    }
    const bytes = await readFile(this.layout.blobPath(digest as Digest))
    return parseManifest(bytes, {
      expectedDigest: digest,
      contentType: this.state.manifest(digest)?.mediaType,
    })
  }

  /** A blob through the cache: downloaded once (joining a download in flight), then read from the store. */
  private async cachedBlob(source: Source, desc: Descriptor): Promise<Readable> {
    const digest = desc.digest as Digest
    const hit = await this.layout.hasBlob(digest)
    this.stats[hit ? 'hits' : 'misses'].blob++
    if (!hit) await (this.flights.get(flightKey(desc)) ?? this.startFlight(source.repo, desc)).done
    this.state.touch(digest)
    return this.layout.target().fetchBlob(desc)
  }

  /**
   * Upstream's referrers (the mirror keeps no listing of its own). Upstream down: none, so only what the
   * cache holds under cosign tags can verify, and an image whose evidence is out of reach is refused.
   */
  private async upstreamReferrers({ repo }: Source, digest: Digest): Promise<Descriptor[]> {
    try {
      return await this.stats.upstream(() => repo.referrers(digest))
    } catch (err) {
      if (!upstreamUnavailable(err)) throw upstreamError(err, `${repo.name}@${digest} referrers`, this.logger)
      this.logger.warn(
        `${repo.name}@${digest}: upstream unavailable; verifying with the cached cosign tags only`,
      )
      return []
    }
  }

  private async hasManifest(digest: string): Promise<boolean> {
    return this.state.manifest(digest) !== undefined && (await this.layout.hasBlob(digest as Digest))
  }

  /**
   * A manifest cached through another repository, asked for by digest through this one: served as
   * content by digest, but its blob sizes count for this repository's pulls only once upstream says
   * (one HEAD, remembered) that this repository holds it. Otherwise anyone could make their manifest
   * this repository's by asking for it here.
   */
  private async confirmUpstream({ repo, key }: Source, digest: string): Promise<void> {
    try {
      if ((await this.stats.upstream(() => repo.resolve(digest))).digest === digest)
        this.state.confirm(digest, key)
    } catch (err) {
      this.logger.debug(`${repo.name}@${digest}: not confirmed upstream: ${(err as Error).message}`)
    }
  }

  /**
   * The digest a tag maps to: the cached one within the TTL; after it, upstream is asked by HEAD (which
   * Docker Hub does not count as a pull) and the manifest is fetched only when the digest changed.
   */
  private async resolveTag(source: Source, tag: string): Promise<{ digest: string; hit: boolean }> {
    const resolved = await this.resolveTagOnce(source, tag)
    this.stats[resolved.hit ? 'hits' : 'misses'].manifest++
    return resolved
  }

  /** A hit: the manifest served is the cached one (within the TTL, confirmed by HEAD, or stale). */
  private async resolveTagOnce(source: Source, tag: string): Promise<{ digest: string; hit: boolean }> {
    const { repo } = source
    // The tag's key is its ref.name in the cache root's index.json (cache-index.ts).
    const key = refNameFor(source.key, tag)
    const cached = this.state.tag(key)
    const now = Date.now()
    if (cached && (await this.hasManifest(cached.digest))) {
      if (now - cached.checkedAt < this.opts.ttlMs) return { digest: cached.digest, hit: true }
      try {
        const desc = await this.stats.upstream(() => repo.resolve(tag))
        const hit = desc.digest === cached.digest || (await this.hasManifest(desc.digest))
        if (!hit) await this.fetchManifest(source, desc.digest)
        this.state.setTag(key, { ...desc, checkedAt: now })
        return { digest: desc.digest, hit }
      } catch (err) {
        if (!upstreamUnavailable(err)) throw upstreamError(err, `${repo.name}:${tag}`, this.logger)
        const age = Math.round((now - cached.checkedAt) / 1000)
        this.logger.warn(
          `${repo.name}:${tag}: upstream unavailable (${(err as Error).message}); serving the stale mapping ` +
            `${cached.digest}, last confirmed ${age}s ago`,
        )
        return { digest: cached.digest, hit: true }
      }
    }
    try {
      const m = await this.fetchManifest(source, tag)
      this.state.setTag(key, { ...descriptorOf(m), checkedAt: now })
      return { digest: m.digest, hit: false }
    } catch (err) {
      throw upstreamError(err, `${repo.name}:${tag}`, this.logger)
    }
  }

  private async fetchManifest({ repo, key }: Source, reference: string): Promise<Manifest> {
    let m: Manifest
    try {
      m = await this.stats.upstream(() => repo.fetchManifest(reference))
    } catch (err) {
      throw upstreamError(err, nameWithReference(repo.name, reference), this.logger)
    }
    this.stats.bytesFromUpstream += m.bytes.byteLength
    await this.storeBytes(m.digest, m.bytes)
    const { manifests, blobs } = childrenOf(m)
    const record = {
      mediaType: m.mediaType,
      blobs: Object.fromEntries(blobs.map((d) => [d.digest, d.size])),
      manifests: manifests.map((d) => d.digest),
    }
    this.state.setManifest(m.digest, record, key)
    return m
  }

  private async storeBytes(digest: string, bytes: Uint8Array): Promise<void> {
    const ingest = join(this.layout.dir, INGEST_DIR)
    await mkdir(ingest, { recursive: true })
    const temp = siblingTemp(join(ingest, digest.replace(':', '-')), 'partial')
    try {
      await writeFile(temp, bytes)
      await this.layout.adoptBlob(temp, { digest: digest as Digest, size: bytes.byteLength })
    } finally {
      await rm(temp, { force: true })
    }
  }

  // --- blobs

  private async getBlob(call: Call<RouteOf<'blob'>>): Promise<void> {
    // From the request on, while it downloads too: eviction keeps the blob, and the manifests that list it.
    const release = this.eviction.reading(call.route.digest)
    try {
      await this.serveBlob(call)
    } finally {
      release()
    }
  }

  private async serveBlob(call: Call<RouteOf<'blob'>>): Promise<void> {
    const { route } = call
    const digest = route.digest
    const hit = await this.layout.hasBlob(digest)
    if (!hit) {
      const { repo, key } = this.repository(call)
      // The size the manifests of this repository give, never another's (sweep H2); the bytes are then
      // verified against digest and size.
      const size = this.state.blobSize(digest, key)
      if (size === undefined) {
        throw new ApiError(
          'BLOB_UNKNOWN',
          `blob ${digest} is in no manifest of ${route.name} pulled through this cache`,
          { detail: { digest } },
        )
      }
      const desc = { mediaType: 'application/octet-stream', digest, size }
      this.stats.misses.blob++
      const running = this.flights.get(flightKey(desc))
      const whole = call.req.method === 'GET' && call.req.headers.range === undefined && size > 0
      if (running && whole && (await this.sendGrowing(call, running, size))) return
      if (running || !whole) {
        await (running ?? this.startFlight(repo, desc)).done
      } else {
        return this.sendAsItArrives(call, this.startFlight(repo, desc, true), size)
      }
    }
    this.state.touch(digest)
    const path = this.layout.blobPath(digest)
    if (hit) {
      this.stats.hits.blob++
      // Counted before the answer goes out: a scrape right after the pull sees it.
      if (call.req.method === 'GET' && call.req.headers.range === undefined) {
        this.stats.bytesFromCache += (await stat(path).catch(() => undefined))?.size ?? 0
      }
    }
    await sendBlobFile(call, { kind: 'file', path, offset: 0, verify: false })
  }

  /**
   * The client that started a download gets the bytes as they arrive from upstream, while they are
   * written to the store; its last chunk is held back until the whole blob verified, so a corrupt
   * upstream answer never reaches a client as a complete one. Reading the growing file instead, as
   * joining clients do, would read every byte back from the page cache: 1.78 → 2.18 CPU-seconds of the
   * mirror per 256 MiB first pull (bench/cache.ts, same machine, back to back).
   */
  private async sendAsItArrives(call: Call<RouteOf<'blob'>>, flight: Flight, size: number): Promise<void> {
    const branch = flight.branch!
    call.res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': size,
      'Docker-Content-Digest': call.route.digest,
      ETag: `"${call.route.digest}"`,
    })
    this.state.touch(call.route.digest)
    await pipeline(branch, holdLastUntil(flight.verified), batchedResponse(call.res))
  }

  /** One upstream GET per digest: everyone asking while it runs reads that one download. */
  private startFlight(repo: RegistryRepository, desc: Descriptor, withBranch = false): Flight {
    const branch = withBranch ? new PassThrough() : undefined
    // The starting client's pipeline reports the branch's failure to it; this listener keeps a failure
    // that comes when that pipeline is not (or no longer) listening from being an unhandled 'error'.
    branch?.on('error', () => {})
    let ended: (ok: boolean) => void = () => {}
    const verified = new Promise<void>((resolve, reject) => {
      ended = (ok) => (ok ? resolve() : reject(new Error(`${desc.digest}: download failed`)))
    })
    let opened: (file: GrowingFile | undefined) => void = () => {}
    const file = new Promise<GrowingFile | undefined>((resolve) => {
      opened = resolve
    })
    const done = this.download(repo, desc, branch, ended, opened).finally(() =>
      this.flights.delete(flightKey(desc)),
    )
    // Waiters see the failure through their own await; these only keep it from being unhandled.
    done.catch(() => ended(false))
    done.then(
      () => opened(undefined),
      () => opened(undefined),
    )
    verified.catch(() => {})
    const flight = { done, branch, verified, file }
    this.flights.set(flightKey(desc), flight)
    return flight
  }

  /**
   * A client asking for a blob that is downloading gets it from the download's file as it grows, not
   * after the whole blob arrived. False when the download's file is already gone (adopted or failed):
   * the caller waits for the download and serves from the store.
   */
  private async sendGrowing(call: Call<RouteOf<'blob'>>, flight: Flight, size: number): Promise<boolean> {
    const file = await flight.file
    if (!file) return false
    const digest = call.route.digest
    return file.sendTo(call.res, size, flight.verified, () => {
      call.res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Content-Length': size,
        'Docker-Content-Digest': digest,
        ETag: `"${digest}"`,
      })
      this.state.touch(digest)
    })
  }

  private async download(
    repo: RegistryRepository,
    desc: Descriptor,
    branch: PassThrough | undefined,
    ended: (ok: boolean) => void,
    opened: (file: GrowingFile) => void,
  ): Promise<void> {
    const what = `${repo.name}@${desc.digest}`
    const ingest = join(this.layout.dir, INGEST_DIR)
    const temp = siblingTemp(join(ingest, desc.digest.replace(':', '-')), 'partial')
    let asked = false
    let received = false
    try {
      // The file exists before upstream answers, so upstream's bytes have a consumer the moment they come:
      // a small answer fails verification within a tick or two, and a stream that fails with nobody
      // listening takes the whole process down (sweep H1: a buffer stream that got its reader only after
      // the file was created).
      await mkdir(ingest, { recursive: true })
      const { file, writer } = await GrowingFile.create(temp)
      let body: Readable
      try {
        // fetchBlob's stream ends only when size and digest matched; it errors otherwise.
        this.stats.upstreamRequests++
        asked = true
        body = await repo.fetchBlob(desc)
      } catch (err) {
        await new Promise((resolve) => writer.once('close', resolve).destroy())
        throw err
      }
      body.once('end', () => ended(true))
      body.on('error', (err) => {
        ended(false)
        branch?.destroy(err)
      })
      // fetchBlob's stream already hashes what it passes: the file it fills is adopted (a rename) once that
      // stream ended verified, without hashing the bytes a second time.
      const written = pipeline(body, writer)
      if (branch) {
        body.pipe(branch)
        // A client that goes away leaves the download running for the store (and the waiters).
        branch.once('close', () => body.unpipe(branch))
      }
      opened(file)
      await written
      received = true
      this.stats.bytesFromUpstream += desc.size
      await this.layout.adoptBlob(temp, { digest: desc.digest as Digest, size: desc.size })
    } catch (err) {
      // Upstream's failure (no answer, or bytes that do not verify), not the store's.
      if (asked && !received) this.stats.upstreamErrors++
      branch?.destroy(err as Error)
      // Logged here once per download: the client that started it only sees its connection cut.
      if (isFerryError(err, 'DIGEST_MISMATCH') || isFerryError(err, 'SIZE_INVALID')) {
        this.logger.warn(
          `${what}: upstream sent bytes that do not match; not cached: ${(err as Error).message}`,
        )
      }
      if (isFerryError(err, 'NOT_FOUND')) {
        throw new ApiError('BLOB_UNKNOWN', `${what}: not found upstream`, { detail: { digest: desc.digest } })
      }
      throw upstreamError(err, what, this.logger)
    } finally {
      await rm(temp, { force: true })
    }
    this.eviction.added(desc.size)
  }

  // --- listings

  private async listTags(call: Call<RouteOf<'tags'>>): Promise<void> {
    const { repo, key } = this.repository(call)
    let tags: string[]
    try {
      tags = await this.stats.upstream(() => repo.listTags())
    } catch (err) {
      if (!upstreamUnavailable(err)) throw upstreamError(err, repo.name, this.logger)
      const prefix = `${key}:`
      tags = this.state
        .tagKeys()
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length))
      this.logger.warn(`${repo.name}: upstream unavailable; listing the cached ${plural(tags.length, 'tag')}`)
    }
    sendJson(call.res, 200, { name: call.route.name, tags })
  }

  private async listReferrers(call: Call<RouteOf<'referrers'>>): Promise<void> {
    const { repo } = this.repository(call)
    const artifactType = referrersFilter(call.query)
    let manifests: Descriptor[]
    try {
      // Upstream's referrers API (filtered there, or here when it says it did not), or its referrers tag
      // schema, filtered here.
      manifests = await this.stats.upstream(() =>
        repo.referrers(call.route.digest, artifactType ? { artifactType } : {}),
      )
    } catch (err) {
      throw upstreamError(err, `${repo.name}@${call.route.digest} referrers`, this.logger)
    }
    sendReferrers(call.res, manifests, artifactType)
  }
}
