import type { SeenRequest } from './fault-proxy.js'

/** A request as `METHOD kind` (`GET manifest`, `HEAD blob`, `POST upload?digest`…), for counting. */
export function requestKind(r: SeenRequest): string {
  const path = r.path.split('?')[0]!
  const what = path.endsWith('/tags/list')
    ? 'tags'
    : path.includes('/referrers/')
      ? 'referrers'
      : path.includes('/manifests/')
        ? 'manifest'
        : path.includes('/blobs/uploads/')
          ? r.path.includes('mount=')
            ? 'mount'
            : r.method === 'POST' && r.path.includes('digest=')
              ? 'upload?digest'
              : 'upload'
          : path.includes('/blobs/')
            ? 'blob'
            : path
  return `${r.method} ${what}`
}

/** What a fault proxy saw, counted by `requestKind`. */
export function countRequests(seen: readonly SeenRequest[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of seen) out[requestKind(r)] = (out[requestKind(r)] ?? 0) + 1
  return out
}
