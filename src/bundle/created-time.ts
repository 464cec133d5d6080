import { createdTimestamp } from '../supply/annotations.js'

/** The largest mtime a ustar header's 11 octal digits hold (year 2514); later times are not written. */
const MAX_TAR_SECONDS = 8 ** 11 - 1

/**
 * The newest of the images' own times (config `created`, `org.opencontainers.image.created`), or the
 * epoch when none is a time a tar header can hold (before 1970, unparsable, or after MAX_TAR_SECONDS).
 */
export function newestContentTime(times: Iterable<string>): Date {
  let newest = 0
  for (const t of times) {
    const ms = Date.parse(t)
    if (Number.isFinite(ms) && ms >= 0 && ms <= MAX_TAR_SECONDS * 1000 && ms > newest) newest = ms
  }
  return new Date(newest)
}

/**
 * A bundle's `created` (RFC 3339 UTC, whole seconds), also every tar entry's mtime: SOURCE_DATE_EPOCH
 * (reproducible-builds.org) when set, else the newest time the images themselves carry. Never the
 * clock, so the same content makes the same bytes however often and whenever it is bundled.
 */
export function bundleCreated(env: NodeJS.ProcessEnv, contentTimes: Iterable<string>): string {
  return createdTimestamp(env, () => newestContentTime(contentTimes))
}
