import { isIP } from 'node:net'
import { hostnameOf, isLoopback, listedHost } from './hosts.js'

/**
 * Which token realms may receive the registry's credentials (a Basic header, an identity token). A
 * registry names its realm in its 401 challenge, so a hostile or compromised registry (or whoever can
 * answer in its place over plain HTTP) could otherwise collect the stored password by naming its own
 * host (sweep 2026-12, M8). Cross-host realms are normal (Docker Hub: registry-1.docker.io →
 * auth.docker.io; GitLab: registry.gitlab.com → gitlab.com), so the rule is by domain:
 *
 *  - transport: HTTPS; plain HTTP only to a loopback realm, or to the registry's own host when the
 *    registry itself was reached over plain HTTP (nothing is lost that was not already in clear);
 *  - host: the registry's host, a host under it, its parent domain or a host under that (never when
 *    the parent is a single label such as `com`, nor for a registry named by an IP address), or a
 *    host the user allowed (`--allow-token-realm HOST[:PORT]`).
 *
 * A request without credentials may go to any realm: it carries nothing to leak.
 */
export interface RealmRefusal {
  reason: string
  /** Whether listing the realm's host would allow it (not for a plain-HTTP realm). */
  allowable: boolean
}

export function realmRefusal(
  registry: URL,
  realm: URL,
  allowed: readonly string[] = [],
): RealmRefusal | undefined {
  const own = registry.hostname.toLowerCase()
  const host = realm.hostname.toLowerCase()
  const sameHost = own === host
  if (realm.protocol !== 'https:') {
    if (realm.protocol !== 'http:')
      return { reason: `its scheme ${realm.protocol} is neither https: nor http:`, allowable: false }
    const plainOk = isLoopback(realm.host) || (registry.protocol === 'http:' && sameHost)
    if (!plainOk) {
      const reason =
        registry.protocol === 'https:'
          ? 'it is plain http:// while the registry is https:// (the password would cross the network in clear)'
          : 'it is plain http:// on another host than the registry (the password would cross the network in clear)'
      return { reason, allowable: false }
    }
  }
  if (sameHost || inDomainOf(own, host) || listedHost(realm.host, allowed)) return undefined
  return {
    reason: `it is on another host (${realm.host}) than the registry (${registry.host}) and outside its domain`,
    allowable: true,
  }
}

/** `host` is under `own`, or is `own`'s parent domain or under it; never for IPs or a one-label parent. */
function inDomainOf(own: string, host: string): boolean {
  if (isIP(hostnameOf(own)) || isIP(hostnameOf(host))) return false
  const labels = own.split('.')
  if (labels.length < 2) return false
  if (host.endsWith(`.${own}`)) return true
  const parent = labels.slice(1).join('.')
  return labels.length >= 3 && (host === parent || host.endsWith(`.${parent}`))
}
