import { FerryError } from '../../errors.js'

/** One `--upstream` value: `URL` or `NAME=URL`. `name` is what containerd's `?ns=` names. */
export interface UpstreamSpec {
  name: string
  /** The registry host (with port) the client talks to. */
  host: string
  /** Plain http:// away from loopback: the host must be treated as insecure. */
  plainHttp: boolean
}

export function parseUpstream(value: string): UpstreamSpec {
  const eq = value.indexOf('=')
  const named = eq > 0 && !value.slice(0, eq).includes('/')
  const raw = named ? value.slice(eq + 1) : value
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new FerryError('USAGE', `invalid --upstream "${value}": expected URL or NAME=URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new FerryError('USAGE', `invalid --upstream "${value}": only http:// and https:// URLs`)
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.username) {
    throw new FerryError('USAGE', `invalid --upstream "${value}": a registry URL has no path, query or user`)
  }
  return {
    name: named ? value.slice(0, eq) : url.host,
    host: url.host,
    plainHttp: url.protocol === 'http:',
  }
}

/** `5m`, `30s`, `2h`, `30d`, or plain seconds. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim())
  if (!m) throw new FerryError('USAGE', `invalid ${flag} "${value}": expected e.g. 30s, 5m, 2h, 30d`)
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's']!
  return Number(m[1]) * unit
}

/** `50G`, `512M`, `1T`, or plain bytes (binary units). */
export function parseSize(value: string, flag: string): number {
  const m = /^(\d+)([KMGT]i?B?)?$/i.exec(value.trim())
  if (!m) throw new FerryError('USAGE', `invalid ${flag} "${value}": expected e.g. 512M, 50G, 1T`)
  const unit = m[2] ? 1024 ** ('KMGT'.indexOf(m[2][0]!.toUpperCase()) + 1) : 1
  return Number(m[1]) * unit
}
