import { Counter, Gauge, Registry } from 'prom-client'
import type { ServePolicy } from '../policy/serve-policy.js'
import type { UploadStore } from '../uploads.js'
import type { Mirror } from '../upstream/mirror.js'

/** One finished request, as the request counters take it. */
export interface RequestSample {
  method: string
  /** The route template (`/v2/{name}/manifests/{reference}`), never the path: names would explode the series. */
  route: string
  status: number
  bytesIn: number
  bytesOut: number
}

type Series = { labels?: Record<string, string>; value: number }

// The method is the client's to choose: anything else is one series, not one per invention.
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * A counter whose series are read at each scrape from counts another module keeps (the cache's and the
 * policy's, which their UI pages show too): one count, two readers.
 */
function countedElsewhere(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Series[],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset()
      for (const s of read()) this.inc(s.labels ?? {}, s.value)
    },
  })
}

/**
 * What `/metrics` exposes, through prom-client on a registry of this server's own (two servers in one
 * process, as the tests run them, must not share counts): requests by method, route and status, bytes in
 * and out, open upload sessions; with --upstream the cache's hits, misses and traffic (cache-stats.ts);
 * with --policy its refusals by rule.
 */
export class ServerMetrics {
  readonly registry = new Registry()
  private readonly requests: Counter<'method' | 'route' | 'status'>
  private readonly bytesIn: Counter<'route'>
  private readonly bytesOut: Counter<'route'>

  constructor(sources: { uploads?: UploadStore; mirror?: Mirror; policy?: ServePolicy }) {
    const registers = [this.registry]
    this.requests = new Counter({
      name: 'ferry_http_requests_total',
      help: 'HTTP requests by method, route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    })
    this.bytesIn = new Counter({
      name: 'ferry_http_request_bytes_total',
      help: 'Request bytes read after the headers, by route.',
      labelNames: ['route'],
      registers,
    })
    this.bytesOut = new Counter({
      name: 'ferry_http_response_bytes_total',
      help: 'Bytes written for answers, headers included, by route.',
      labelNames: ['route'],
      registers,
    })
    const { uploads, mirror, policy } = sources
    new Gauge({
      name: 'ferry_upload_sessions_open',
      help: 'Blob upload sessions open now.',
      registers,
      collect() {
        this.set(uploads?.size ?? 0)
      },
    })
    if (mirror) {
      const s = mirror.stats
      const byKind = (counts: Record<string, number>) =>
        Object.entries(counts).map(([kind, value]) => ({ labels: { kind }, value }))
      countedElsewhere(
        this.registry,
        'ferry_cache_hits_total',
        'Pull-through cache: served from the cache, by kind.',
        ['kind'],
        () => byKind(s.hits),
      )
      countedElsewhere(
        this.registry,
        'ferry_cache_misses_total',
        'Pull-through cache: fetched from upstream first, by kind.',
        ['kind'],
        () => byKind(s.misses),
      )
      const counters: [string, string, () => number][] = [
        [
          'ferry_upstream_requests_total',
          'Calls to upstream (each once, however often retried).',
          () => s.upstreamRequests,
        ],
        ['ferry_upstream_errors_total', 'Calls to upstream that failed.', () => s.upstreamErrors],
        [
          'ferry_upstream_bytes_total',
          'Bytes of manifests and blobs fetched from upstream.',
          () => s.bytesFromUpstream,
        ],
        [
          'ferry_cache_served_bytes_total',
          'Bytes of manifests and blobs served from the cache.',
          () => s.bytesFromCache,
        ],
        ['ferry_cache_evictions_total', 'Blobs evicted from the cache.', () => s.evictions],
        ['ferry_cache_evicted_bytes_total', 'Bytes evicted from the cache.', () => s.evictedBytes],
      ]
      for (const [name, help, value] of counters) {
        countedElsewhere(this.registry, name, help, [], () => [{ value: value() }])
      }
    }
    if (policy) {
      countedElsewhere(
        this.registry,
        'ferry_policy_refusals_total',
        'Requests the policy refused (403 DENIED), by action and blocking rule.',
        ['action', 'rule'],
        () => policy.refusals().map((e) => ({ labels: { action: e.action, rule: e.rule }, value: e.count })),
      )
    }
  }

  record(s: RequestSample): void {
    const method = METHODS.has(s.method) ? s.method : 'other'
    this.requests.inc({ method, route: s.route, status: String(s.status) })
    this.bytesIn.inc({ route: s.route }, s.bytesIn)
    this.bytesOut.inc({ route: s.route }, s.bytesOut)
  }

  /** The text exposition Prometheus scrapes, and its content type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType }
  }
}
