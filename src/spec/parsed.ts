import { z } from 'zod'
import { parsePlatform } from '../oci/platform.js'
import type { Platform } from '../oci/schemas.js'

/**
 * A YAML string that ferry's own parser (a reference, a platform, a prefix) must accept; the parsed
 * value replaces the string, and the parser's message becomes the issue, pointing at the line.
 */
export function parsed<T>(parse: (value: string) => T) {
  return z.string().transform((value, ctx): T => {
    try {
      return parse(value)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
      return z.NEVER
    }
  })
}

/** `platforms: [linux/amd64, linux/arm64/v8]` */
export const platformsSchema = z.array(parsed<Platform>(parsePlatform)).min(1)
