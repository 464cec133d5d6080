/**
 * Bearer tokens per registry, keyed by the scopes they were granted (a token service may grant fewer
 * than asked: pull when push was asked, nothing on a repository the user cannot see). A token granted
 * `repository:a:pull,push` also serves a request that needs only `repository:a:pull`, so a push
 * followed by reads of the same repository costs one token request.
 */

/** `repository:team/app:pull,push` → resource `repository:team/app`, actions {pull, push}. */
function parseScope(scope: string): { resource: string; actions: string[] } {
  const last = scope.lastIndexOf(':')
  if (last <= 0) return { resource: scope, actions: [] }
  return {
    resource: scope.slice(0, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  }
}

/** Union of scopes, one entry per resource with its actions merged; sorted so equal sets compare equal. */
export function mergeScopes(...lists: readonly (readonly string[])[]): string[] {
  const byResource = new Map<string, Set<string>>()
  for (const scope of lists.flat()) {
    const { resource, actions } = parseScope(scope)
    const set = byResource.get(resource) ?? new Set<string>()
    for (const a of actions) set.add(a)
    byResource.set(resource, set)
  }
  return [...byResource.entries()]
    .map(([resource, actions]) => `${resource}:${[...actions].sort().join(',')}`)
    .sort()
}

export function coversScopes(granted: readonly string[], wanted: readonly string[]): boolean {
  const have = new Map(granted.map((s) => parseScope(s)).map((p) => [p.resource, new Set(p.actions)]))
  return wanted.every((s) => {
    const { resource, actions } = parseScope(s)
    const set = have.get(resource)
    return !!set && (set.has('*') || actions.every((a) => set.has(a)))
  })
}

interface Entry {
  scopes: string[]
  token: string
  expiresAt: number
}

export interface IssuedToken {
  token: string
  /** Seconds; the token spec's default is 60 when the server does not say. */
  expiresIn: number
  /** What the token allows, when the server says (its `access` claim, an OAuth2 `scope`); else as asked. */
  granted?: string[]
}

export class TokenCache {
  private readonly entries = new Map<string, Entry[]>()
  private readonly inflight = new Map<string, Promise<string>>()

  constructor(private readonly now: () => number = Date.now) {}

  get(registry: string, scopes: readonly string[]): string | undefined {
    const t = this.now()
    const list = (this.entries.get(registry) ?? []).filter((e) => e.expiresAt > t)
    this.entries.set(registry, list)
    return list.find((e) => coversScopes(e.scopes, scopes))?.token
  }

  /** Drops every token that would be offered for these scopes (after the registry refused one). */
  invalidate(registry: string, scopes: readonly string[]): void {
    const list = this.entries.get(registry) ?? []
    this.entries.set(
      registry,
      list.filter((e) => !coversScopes(e.scopes, scopes)),
    )
  }

  /** A cached token covering `scopes`, else one from `fetch`; concurrent callers share one fetch. */
  async obtain(registry: string, scopes: string[], fetch: () => Promise<IssuedToken>): Promise<string> {
    const cached = this.get(registry, scopes)
    if (cached) return cached
    const key = `${registry} ${scopes.join(' ')}`
    const pending = this.inflight.get(key)
    if (pending) return pending
    const p = (async () => {
      const issued = await fetch()
      // Refresh a little early so a token does not expire between our check and the registry's.
      const lifetimeMs = issued.expiresIn * 1000
      const margin = Math.min(5_000, lifetimeMs / 10)
      const list = this.entries.get(registry) ?? []
      const granted = issued.granted ?? scopes
      list.push({ scopes: granted, token: issued.token, expiresAt: this.now() + lifetimeMs - margin })
      this.entries.set(registry, list)
      return issued.token
    })()
    this.inflight.set(key, p)
    try {
      return await p
    } finally {
      this.inflight.delete(key)
    }
  }
}
