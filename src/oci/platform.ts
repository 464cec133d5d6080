import { FerryError } from '../errors.js'
import type { Platform } from './schemas.js'

/** `OS/ARCH[/VARIANT]`, as `docker --platform` and crane take it. */
export function parsePlatform(value: string): Platform {
  const parts = value.split('/')
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/i.test(p))) {
    throw new FerryError(
      'USAGE',
      `invalid platform "${value}": expected OS/ARCH[/VARIANT], e.g. linux/arm64/v8`,
    )
  }
  const [os, architecture, variant] = parts as [string, string, string?]
  return variant ? { os, architecture, variant } : { os, architecture }
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/')
}

/** True when `candidate` satisfies `wanted`; a wanted platform without a variant matches any variant. */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false
  if (wanted.os !== candidate.os || wanted.architecture !== candidate.architecture) return false
  return !wanted.variant || wanted.variant === candidate.variant
}
