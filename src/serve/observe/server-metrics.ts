import type { ServePolicy } from '../policy/serve-policy.js'
import type { UploadStore } from '../uploads.js'
import type { Mirror } from '../upstream/mirror.js'
import { type Counter, MetricsRegistry } from './metrics.js'

/** One finished request, as the request counters take it. */
export interface RequestSample {
  method: string
  /** The route template (`/v2/{name}/manifests/{reference}`), never the path: names would explode the series. */
  route: string
  status: number
  bytesIn: number
  bytesOut: number
}

// The method is the client's to choose: anything else is one series, not one per invention.
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'])

/**
 * What `/metrics` exposes: requests by method, route and status, bytes in and out, open upload
 * sessions; with --upstream the cache's hits, misses and traffic (cache-stats.ts); with --policy its
 * refusals by rule. The cache and the policy keep their own counts (the UI shows them too); they are
 * read at each scrape.
 */
export class ServerMetrics {
  readonly registry = new MetricsRegistry()
  private readonly requests: Counter
  private readonly bytesIn: Counter
  private readonly bytesOut: Counter

  constructor(sources: { uploads?: UploadStore; mirror?: Mirror; policy?: ServePolicy }) {
    const r = this.registry
    this.requests = r.counter(
      'ferry_http_requests_total',
      'HTTP requests by method, route template and status.',
    )
    this.bytesIn = r.counter(
      'ferry_http_request_bytes_total',
      'Request bytes read after the headers, by route.',
    )
    this.bytesOut = r.counter(
      'ferry_http_response_bytes_total',
      'Bytes written for answers, headers included, by route.',
    )
    const { uploads, mirror, policy } = sources
    r.collected('ferry_upload_sessions_open', 'Blob upload sessions open now.', 'gauge', () => [
      { value: uploads?.size ?? 0 },
    ])
    if (mirror) {
      const s = mirror.stats
      const byKind = (counts: Record<string, number>) =>
        Object.entries(counts).map(([kind, value]) => ({ labels: { kind }, value }))
      const one = (value: () => number) => () => [{ value: value() }]
      r.collected(
        'ferry_cache_hits_total',
        'Pull-through cache: served from the cache, by kind.',
        'counter',
        () => byKind(s.hits),
      )
      r.collected(
        'ferry_cache_misses_total',
        'Pull-through cache: fetched from upstream first, by kind.',
        'counter',
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
      for (const [name, help, value] of counters) r.collected(name, help, 'counter', one(value))
    }
    if (policy) {
      r.collected(
        'ferry_policy_refusals_total',
        'Requests the policy refused (403 DENIED), by action and blocking rule.',
        'counter',
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
}
