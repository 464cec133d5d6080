/**
 * Registry host names: where a registry is reached, over which scheme, and the key its
 * credentials live under in docker's config.json.
 */
import { DOCKER_HUB_API, isDockerHub, type Scheme } from '../reference/index.js'

export { isDockerHub }

/** Docker's historical key for Docker Hub credentials; every docker client reads and writes this one. */
export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/'

/** `docker.io` is an alias: the API lives at `registry-1.docker.io`. */
export function apiHost(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_API : registry.toLowerCase()
}

/** The config.json `auths` key (and credential helper server URL) for a registry. */
export function credentialKey(registry: string): string {
  return isDockerHub(registry) ? DOCKER_HUB_KEY : registry.toLowerCase()
}

/** `https://HOST[:PORT]/v1/` or `HOST[:PORT]` to `HOST[:PORT]`, as docker's file store compares keys. */
export function hostOfKey(key: string): string {
  const noScheme = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
  return noScheme.split('/')[0]!.toLowerCase()
}

/** `HOST[:PORT]` → hostname without brackets or port. */
export function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'))
  const colon = host.lastIndexOf(':')
  return colon === -1 ? host : host.slice(0, colon)
}

export function isLoopback(host: string): boolean {
  const name = hostnameOf(host).toLowerCase()
  return name === 'localhost' || name === '::1' || /^127(?:\.\d{1,3}){3}$/.test(name)
}

export type { Scheme }

export interface SchemeChoice {
  /** HOST[:PORT] (or HOST, any port) reached over plain HTTP. */
  insecure?: readonly string[]
  /** Plain HTTP for every registry. */
  plainHttp?: boolean
  /** Per host, the scheme a reference spelled out (`https://HOST:PORT/…`). */
  schemes?: Readonly<Record<string, Scheme>>
}

/**
 * Whether a list of hosts the user gave (`--insecure-registry`, `--allow-token-realm`) names `host`:
 * an entry `HOST[:PORT]` names that host and port, `HOST` alone any port.
 */
export function listedHost(host: string, list: readonly string[] = []): boolean {
  const h = host.toLowerCase()
  return list.some((entry) => {
    const e = hostOfKey(entry)
    return e === h || (!e.includes(':') && hostnameOf(h) === e && !h.startsWith('['))
  })
}

/**
 * The scheme the user's choices fix for a host: a spelled-out scheme, then plain HTTP for all, then
 * the insecure list, then HTTPS for any host that is not loopback. Undefined for a loopback host left
 * open: port-forwards and local registries speak either, so the transport asks the port.
 */
export function chosenScheme(host: string, choice: SchemeChoice = {}): Scheme | undefined {
  const spelled = choice.schemes?.[host.toLowerCase()]
  if (spelled) return spelled
  if (choice.plainHttp || listedHost(host, choice.insecure)) return 'http'
  return isLoopback(host) ? undefined : 'https'
}
