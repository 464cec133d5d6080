import type { Policy } from '../src/policy/index.js'
import { planOrder, type RepositoryApply, type RepositoryPlan } from '../src/retention/index.js'
import { plural } from './format.js'

const short = (digest: string) => digest.slice(0, 19)
const ageText = (age: { time?: string; source: string } | undefined) =>
  age ? (age.time ? `, created ${age.time.slice(0, 10)} (${age.source})` : ', age unknown') : ''

/**
 * One repository's plan for a terminal: totals, then one line per tag, kept or not, in the plan's order
 * (environment, then newest first), then per manifest that goes, then notes.
 */
export function renderPlan(plan: RepositoryPlan, policy: Policy): string[] {
  const s = plan.summary
  const lines = [
    `${plan.repository}: ${plural(s.tags, 'tag')}, keep ${s.kept}, untag ${s.untag}, delete ${plural(s.deleteManifests, 'manifest')} (${s.referrers} attached), ${plural(s.fallbackIndexes, 'fallback index', 'fallback indexes')}${s.placeholders ? `, ${plural(s.placeholders, 'placeholder')}` : ''}`,
  ]
  for (const p of plan.placeholders) {
    lines.push(
      `  remove  ${p.tag}  ferry's untag placeholder ${short(p.digest)} (an interrupted untag; the tag names no image)`,
    )
  }
  const rows = [
    ...plan.keep.map((k) => ({
      ...k,
      line: `  keep    ${k.tag}  ${k.reason}${k.environment ? ` (${k.environment})` : ''}${ageText(k.age)}`,
    })),
    ...plan.delete.map((d) => {
      const verb = d.action === 'untag' ? 'untag ' : 'delete'
      const why = d.action === 'untag' ? 'digest shared with a kept tag: only the tag goes' : short(d.digest)
      return { ...d, line: `  ${verb}  ${d.tag}  ${why} (${d.environment})${ageText(d.age)}` }
    }),
  ]
  for (const r of rows.sort(planOrder(policy))) lines.push(r.line)
  for (const m of plan.manifests.filter((x) => x.role === 'child')) {
    lines.push(`  delete  ${short(m.digest)}  index child`)
  }
  for (const r of plan.referrers) {
    const what = r.tag ?? r.artifactType ?? r.mediaType
    lines.push(`    with  ${short(r.digest)}  ${r.role} ${what} of ${short(r.subject ?? '')}`)
  }
  for (const f of plan.fallbackIndexes) lines.push(`  remove  ${f.tag}  fallback referrers index`)
  for (const t of plan.orphanAttachmentTags)
    lines.push(`  note    ${t}: attachment tag of a digest no tag names (left alone)`)
  for (const f of plan.forbidden)
    lines.push(
      `  note    ${f.tag}: the policy forbids this tag here (environment ${f.environment}: ${f.pattern})`,
    )
  if (plan.untagged.note) lines.push(`  note    untagged: delete: ${plan.untagged.note}`)
  const needs = [
    plan.needs.manifestDelete ? 'manifest DELETE' : undefined,
    plan.needs.tagDelete ? 'tag DELETE (or, without it, a placeholder push and manifest DELETE)' : undefined,
  ].filter(Boolean)
  if (needs.length) lines.push(`  needs   ${needs.join('; ')}`)
  return lines
}

export function renderApply(result: RepositoryApply): string[] {
  const c = result.steps
  const lines: string[] = []
  if (result.resumed)
    lines.push(
      `${result.repository}: ${plural(result.resumed.steps, 'step')} left by an interrupted run, carried into this one where the fresh plan did not repeat them (deletes re-checked against the tags)`,
    )
  lines.push(
    `${result.repository}: untagged ${c.untagged}${c.placeholderUntags ? ` (${c.placeholderUntags} by placeholder: the registry has no tag DELETE)` : ''}, deleted ${plural(c.deletedManifests, 'manifest')}, removed ${plural(c.removedFallbackIndexes, 'fallback index', 'fallback indexes')}${c.removedPlaceholders ? `, removed ${plural(c.removedPlaceholders, 'placeholder')} an interrupted untag left` : ''}`,
  )
  for (const s of c.skipped) lines.push(`  skipped ${s}`)
  return lines
}
