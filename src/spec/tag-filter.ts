/**
 * Which tags of a repository to take, shared by sync and bundle specs:
 *
 *   tags:    [latest, "16"]        exact names, always kept when the repository has them
 *
 * A plain list in place of the filter, `tags: [v1.0.0, latest]` (what skopeo-sync and regsync users
 * write), is shorthand for `tags: { tags: [v1.0.0, latest] }`.
 *   match:   "16.*" or /^v\d+$/    a glob (* any run, ? one character) or a /regex/ (unanchored, JS syntax)
 *
 * Patterns and tags can both be hostile (a spec from elsewhere, tags from any registry), so both
 * matchers run in time linear in the tag: globs with two pointers, regexes on RE2 (tag-regex.ts),
 * which refuses the constructs that need backtracking (backreferences, lookaround).
 *   semver:  ">=16 <17"            a SemVer range over the tag's version (see tag-version.ts)
 *   exclude: ["*-rc*", "/beta/"]   globs or regexes that match/semver/newest must not select
 *   newest:  3                     of what the rules above selected, the 3 highest versions
 *
 * How they combine: `match`, `semver` and `exclude` all have to hold; `newest` then ranks what they let
 * through (on its own it ranks every tag with a version, prereleases left out, as the range "*" would),
 * so `newest: 2, exclude: ["*-alpine"]` gives two non-alpine tags. The exact `tags` are added last,
 * untouched by `exclude`, because a name written out in full is a decision, not a pattern.
 *
 * A prerelease (`1.4.0-rc.1`) satisfies a range only when the range itself names a prerelease of the
 * same version, as in SemVer. Tags without a version (`latest`, `sha-1a2b`) never satisfy `semver` and
 * are never counted by `newest`. In YAML, quote globs and ranges: a leading * or > means something else.
 *
 * The result is sorted: versions highest first, then the rest lexically.
 */
// The functions alone, as in tag-version.ts: semver's index loads every module it has.
import satisfies from 'semver/functions/satisfies.js'
import validRange from 'semver/ranges/valid.js'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { clipMiddle } from '../log.js'
import { tagProblem } from '../reference/grammar.js'
import { compileTagRegex, type TagRegex } from './tag-regex.js'
import { sortTags, tagVersion } from './tag-version.js'

const REGEX_LITERAL_RE = /^\/(.+)\/([a-z]*)$/
const GLOB_RE = /^[\w.*?-]+$/

function patternProblem(pattern: string): string | undefined {
  const literal = REGEX_LITERAL_RE.exec(pattern)
  if (literal) {
    const compiled = compileTagRegex(literal[1]!, literal[2]!)
    return typeof compiled === 'string' ? compiled : undefined
  }
  if (!GLOB_RE.test(pattern)) {
    return 'a glob may hold tag characters (letters, digits, "_", ".", "-") and the wildcards * and ?; write /…/ for a regex'
  }
  return undefined
}

/**
 * Whole-string glob match with two pointers: on a mismatch, go back to just after the last `*` and
 * let it take one more character. Each step moves the tag pointer forward or moves the restart
 * point forward, so the work is bounded by tag length times pattern length, never exponential
 * (the regex translation `^.*a.*a.*a.*a.*a.*b$` took 49 s on one tag).
 */
export function globMatch(glob: string, tag: string): boolean {
  let g = 0
  let t = 0
  let starG = -1
  let starT = 0
  while (t < tag.length) {
    if (g < glob.length && (glob[g] === '?' || glob[g] === tag[t])) {
      g++
      t++
    } else if (g < glob.length && glob[g] === '*') {
      starG = g++
      starT = t
    } else if (starG >= 0) {
      g = starG + 1
      t = ++starT
    } else return false
  }
  while (g < glob.length && glob[g] === '*') g++
  return g === glob.length
}

/** A `match`/`exclude` glob or /regex/, checked when the spec is read. */
export const patternSchema = z.string().superRefine((value, ctx) => {
  const problem = patternProblem(value)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

const tagName = z.string().superRefine((value, ctx) => {
  const problem = tagProblem(value)
  if (problem) ctx.addIssue({ code: 'custom', message: problem })
})

const filterObjectSchema = z
  .strictObject({
    tags: z.array(tagName).min(1).optional(),
    match: patternSchema.optional(),
    semver: z
      .string()
      .refine((range) => validRange(range) !== null, {
        message: 'not a valid SemVer range, e.g. ">=16 <17" or "^1.4"',
      })
      .optional(),
    newest: z.number().int().positive().optional(),
    exclude: z.array(patternSchema).optional(),
  })
  .refine((f) => f.tags || f.match !== undefined || f.semver !== undefined || f.newest !== undefined, {
    message: 'selects no tags: give at least one of tags, match, semver or newest',
  })

export type TagFilter = z.infer<typeof filterObjectSchema>

const exactTagsSchema = z
  .array(tagName)
  .min(1)
  .transform((tags): TagFilter => ({ tags }))

/** The filter object, or a list of exact tags; issues keep pointing at what was written. */
export const tagFilterSchema = z.unknown().transform((value, ctx): TagFilter => {
  if (!Array.isArray(value) && (typeof value !== 'object' || value === null)) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a list of tags ([v1.0.0, latest]) or a filter ({ semver: ">=1", newest: 3 })',
    })
    return z.NEVER
  }
  const result = (Array.isArray(value) ? exactTagsSchema : filterObjectSchema).safeParse(value)
  if (result.success) return result.data
  for (const issue of result.error.issues) ctx.addIssue({ ...issue })
  return z.NEVER
})

/** A compiled `match`/`exclude` pattern. */
export function compilePattern(pattern: string): (tag: string) => boolean {
  const problem = patternProblem(pattern)
  if (problem) {
    throw new FerryError('USAGE', clipMiddle(`invalid tag pattern "${pattern}": ${problem}`, 300))
  }
  const literal = REGEX_LITERAL_RE.exec(pattern)
  if (!literal) return (tag) => globMatch(pattern, tag)
  const re = compileTagRegex(literal[1]!, literal[2]!) as TagRegex
  return (tag) => re.test(tag)
}

export function selectTags(available: readonly string[], filter: TagFilter): string[] {
  const unique = [...new Set(available)]
  const selected = new Set<string>()

  if (filter.match !== undefined || filter.semver !== undefined || filter.newest !== undefined) {
    const match = filter.match !== undefined ? compilePattern(filter.match) : undefined
    const range = filter.semver ?? (filter.match === undefined ? '*' : undefined)
    const excluded = (filter.exclude ?? []).map(compilePattern)
    let picked = unique.filter((tag) => {
      if (match && !match(tag)) return false
      if (excluded.some((ex) => ex(tag))) return false
      if (range === undefined) return true
      const version = tagVersion(tag)
      return version !== null && satisfies(version, range)
    })
    if (filter.newest !== undefined) {
      picked = sortTags(picked.filter((tag) => tagVersion(tag) !== null)).slice(0, filter.newest)
    }
    for (const tag of picked) selected.add(tag)
  }

  const present = new Set(unique)
  for (const tag of filter.tags ?? []) if (present.has(tag)) selected.add(tag)
  return sortTags(selected)
}

/** Whether one tag passes the filter (an environment's `match.tags`, a forbidden-tags rule). */
export const tagMatches = (tag: string, filter: TagFilter): boolean => selectTags([tag], filter).length === 1

/** Exact `tags` the repository does not have: a sync should say so rather than skip them quietly. */
export function missingTags(available: readonly string[], filter: TagFilter): string[] {
  const present = new Set(available)
  return (filter.tags ?? []).filter((tag) => !present.has(tag))
}
