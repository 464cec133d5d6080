import type { Policy } from '../policy/index.js'
import { tagVersion } from '../spec/tag-version.js'
import { newestFirst } from './keep.js'

/** A kept or removed tag of a plan, as far as its place in the plan goes. */
export interface PlanRow {
  tag: string
  environment?: string
  age?: { time?: string }
}

/**
 * The order of a plan's tags, for people and for --json alike: by the environment whose retention rule
 * governs each tag, in the policy file's order (tags in none last), then newest first as the keep rule
 * ranks them (SemVer precedence, then age, then name). Never the registry's listing order, where
 * v1.10.0 comes before v1.2.0.
 */
export function planOrder(policy: Policy): (a: PlanRow, b: PlanRow) => number {
  const position = new Map(policy.environments.map((e, i) => [e.name, i]))
  const where = (r: PlanRow) => position.get(r.environment ?? '') ?? policy.environments.length
  const ranked = (r: PlanRow) => ({
    tag: r.tag,
    version: tagVersion(r.tag),
    time: r.age?.time === undefined ? undefined : Date.parse(r.age.time),
  })
  return (a, b) => where(a) - where(b) || newestFirst(ranked(a), ranked(b))
}
