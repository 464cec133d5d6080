import { FerryError } from '../errors.js'

/**
 * `key=value` pairs as given on a command line (`-a env=prod`). The first "=" splits, so values may
 * contain "="; an empty key or a key given twice with different values is refused.
 */
export function parseKeyValues(
  pairs: readonly string[] | undefined,
  what = 'annotation',
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new FerryError('USAGE', `${what} "${pair}": expected KEY=VALUE`)
    const key = pair.slice(0, eq)
    const value = pair.slice(eq + 1)
    if (key in out && out[key] !== value) {
      throw new FerryError('USAGE', `${what} ${key} is given twice with different values`)
    }
    out[key] = value
  }
  return out
}

/** RFC 6838 `type/subtype` (no parameters), as artifactType and layer media types must be. */
const MEDIA_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/

export function checkMediaType(value: string, what: string): string {
  if (!MEDIA_TYPE_RE.test(value)) {
    throw new FerryError(
      'USAGE',
      `${what} "${value}" is not a media type (expected type/subtype, e.g. application/vnd.example+json)`,
    )
  }
  return value
}

/**
 * `org.opencontainers.image.created` for new artifacts: SOURCE_DATE_EPOCH when set (reproducible
 * builds), else now; RFC 3339 UTC, whole seconds, as cosign writes it.
 */
export function createdTimestamp(
  env: NodeJS.ProcessEnv = process.env,
  now: () => Date = () => new Date(),
): string {
  const epoch = env.SOURCE_DATE_EPOCH
  let date = now()
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch))
      throw new FerryError('USAGE', `SOURCE_DATE_EPOCH "${epoch}" is not a whole number of seconds`)
    date = new Date(Number(epoch) * 1000)
  }
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
