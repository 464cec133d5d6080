import type { Logger } from '../log.js'
import type { Credential } from './credentials.js'
import type { TransferLimits } from './transfer-limits.js'

export interface RegistryOptions {
  /**
   * HOST[:PORT] reached over plain HTTP. Loopback hosts (127.0.0.0/8, localhost, [::1]) nobody chose
   * a scheme for use HTTPS when their port speaks TLS (or certs.d has their directory), else HTTP.
   */
  insecure?: string[]
  /** Plain HTTP for every registry (oras's --plain-http); a reference's spelled-out scheme still wins. */
  plainHttp?: boolean
  /** Extra PEM CA files trusted in addition to the system CAs. */
  caFiles?: string[]
  /** Per-host trust, docker's layout `HOST[:PORT]/ca.crt`. Default /etc/docker/certs.d. */
  certsDir?: string
  /** Where config.json lives. Default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string
  /**
   * An auth file (`auths` JSON, podman's or docker's) searched before $REGISTRY_AUTH_FILE,
   * $XDG_RUNTIME_DIR/containers/auth.json and config.json; `login` writes to it.
   */
  authFile?: string
  /**
   * Token realm hosts (`HOST[:PORT]`, or `HOST` for any port) that may receive credentials besides the
   * registry's own host and domain (see token-realm.ts). Default none.
   */
  allowTokenRealms?: string[]
  /** Credentials by registry (HOST[:PORT]), used before any file. */
  credentials?: Record<string, Credential>
  /** Receives one debug line per request; never a credential. */
  logger?: Logger
  /** Retry budget per operation. Defaults: 5 tries, 60 s in all, backoff from 250 ms up to 8 s. */
  retry?: { attempts?: number; maxElapsedMs?: number; baseDelayMs?: number; maxDelayMs?: number }
  userAgent?: string
  /** Blobs larger than this are uploaded in PATCH chunks of this size; smaller ones in one PUT. Default 16 MiB. */
  chunkSize?: number
  /** Requests in flight to one registry host at once, across every repository and copy of this client. Default 8. */
  requestsPerHost?: number
  /** Idle timeout and low-speed limit; defaults: 30 s idle, at least 1024 bytes per 30 s. */
  limits?: Partial<TransferLimits>
}

export const DEFAULT_REQUESTS_PER_HOST = 8
export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024
export const DEFAULT_CERTS_DIR = '/etc/docker/certs.d'
export const DEFAULT_USER_AGENT = 'ferry/0.1'
