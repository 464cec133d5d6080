import { compare, type SemVer } from 'semver'
import type { EnvironmentRetention, RetentionRules } from '../policy/index.js'
import { compilePattern } from '../spec/tag-filter.js'
import { tagVersion } from '../spec/tag-version.js'
import type { Age } from './age.js'

/**
 * Why a tag is kept:
 * - `protect`: a global `retention.protect` pattern, or an environment with `protect: true`;
 * - `unmatched`: no environment with a retention block governs it;
 * - `unversioned`: neither a version nor an age to rank it by;
 * - `count`, `within`: the environment's keep rule;
 * - `grace`: younger than `retention.grace`;
 * - `age-unknown`: `within` or `grace` would decide, and no source gave an age.
 */
export type KeepReason =
  | 'protect'
  | 'unmatched'
  | 'unversioned'
  | 'count'
  | 'within'
  | 'grace'
  | 'age-unknown'

export interface TagFacts {
  tag: string
  digest: string
  /** The environment that governs the tag (first match), and its retention block. */
  environment?: { name: string; retention?: EnvironmentRetention }
  /** Absent where no age was needed (protected or unmatched tags). */
  age?: Age
}

export interface TagVerdict extends TagFacts {
  keep: boolean
  /** Set when kept. */
  reason?: KeepReason
  version?: string
}

interface Ranked {
  facts: TagFacts
  version: SemVer | null
}

/** A tag as retention ranks it: its version, else its age (ms since the epoch). */
export interface RankedTag {
  tag: string
  version: SemVer | null
  time?: number
}

/** Newest first: versions by SemVer precedence, then tags ranked by age alone, newest first; then by name. */
export function newestFirst(a: RankedTag, b: RankedTag): number {
  const byName = a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0
  if (a.version && b.version) return compare(b.version, a.version) || byName
  if (a.version || b.version) return a.version ? -1 : 1
  return (b.time ?? 0) - (a.time ?? 0) || byName
}

const rank = (a: Ranked, b: Ranked): number =>
  newestFirst(
    { tag: a.facts.tag, version: a.version, time: a.facts.age?.time },
    { tag: b.facts.tag, version: b.version, time: b.facts.age?.time },
  )

/**
 * The keep rules of one repository's tags, environment by environment: kept = the `count` newest ∪
 * those younger than `within`; everything else in the environment is a candidate unless `grace` or a
 * protect pattern holds it. A pure function of the facts and the clock, so a plan can be checked.
 */
export function judgeTags(
  facts: readonly TagFacts[],
  rules: RetentionRules | undefined,
  now: number,
): TagVerdict[] {
  const protect = (rules?.protect ?? []).map(compilePattern)
  const verdicts = new Map<string, TagVerdict>()
  const kept = (f: TagFacts, reason: KeepReason) => verdicts.set(f.tag, { ...f, keep: true, reason })
  const groups = new Map<string, Ranked[]>()
  for (const f of facts) {
    const retention = f.environment?.retention
    if (protect.some((p) => p(f.tag)) || (retention && 'protect' in retention)) kept(f, 'protect')
    else if (!retention || !f.environment) kept(f, 'unmatched')
    else {
      const version = tagVersion(f.tag)
      if (!version && f.age?.time === undefined) kept(f, 'unversioned')
      else {
        const group = groups.get(f.environment.name) ?? []
        group.push({ facts: f, version })
        groups.set(f.environment.name, group)
      }
    }
  }
  for (const group of groups.values()) {
    group.sort(rank)
    for (const [i, { facts: f, version }] of group.entries()) {
      const keep = (f.environment!.retention as Extract<EnvironmentRetention, { keep: unknown }>).keep
      const v = version ? { version: version.version } : {}
      const time = f.age?.time
      const young = (ms: number) => time !== undefined && now - time < ms
      let reason: KeepReason | undefined
      if (keep.count !== undefined && i < keep.count) reason = 'count'
      else if (keep.within && young(keep.within.ms)) reason = 'within'
      else if (keep.within && time === undefined) reason = 'age-unknown'
      else if (rules?.grace && time === undefined) reason = 'age-unknown'
      else if (rules?.grace && young(rules.grace.ms)) reason = 'grace'
      verdicts.set(f.tag, reason ? { ...f, ...v, keep: true, reason } : { ...f, ...v, keep: false })
    }
  }
  return facts.map((f) => verdicts.get(f.tag)!)
}
