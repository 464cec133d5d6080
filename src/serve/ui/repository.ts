import { refNameOf, splitRefName } from '../../layout/naming.js'
import type { Digest } from '../../oci/digest.js'
import { isAttachmentTag, isTag } from '../../reference/grammar.js'
import type { ServeContext } from '../context.js'
import { storeView } from '../policy/view.js'
import { UiNotFound } from './not-found.js'

export interface TagEntry {
  tag: string
  digest: Digest
  mediaType: string
}

/**
 * The repositories the UI lists, sorted: those a client can address (as `_catalog`), or in a
 * pull-through cache the cached ones, named `UPSTREAM/REPOSITORY` as in the cache root's index.json.
 */
export async function repositoryNames(ctx: ServeContext): Promise<string[]> {
  return ctx.mirror ? ctx.store.repositories() : ctx.members.repositories()
}

export async function requireRepository(ctx: ServeContext, name: string): Promise<void> {
  const exists = ctx.mirror ? (await ctx.store.repositories()).includes(name) : await ctx.members.exists(name)
  if (!exists) throw new UiNotFound(`no repository ${name}`)
}

/** Every tag of the repository with what it names, sorted; cosign's and the referrers tags apart. */
export async function tagEntries(
  ctx: ServeContext,
  name: string,
): Promise<{ tags: TagEntry[]; attachments: number }> {
  const tags: TagEntry[] = []
  let attachments = 0
  for (const e of await ctx.store.entriesOf(name)) {
    const ref = refNameOf(e)
    if (ref === undefined) continue
    const { tag } = splitRefName(ref)
    if (!isTag(tag)) continue
    if (isAttachmentTag(tag)) attachments++
    else tags.push({ tag, digest: e.digest as Digest, mediaType: e.mediaType })
  }
  tags.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0))
  return { tags, attachments }
}

export type VerdictKind = 'pass' | 'fail' | 'warn' | 'none'

export interface UiVerdict {
  /** The environments the name is in (its own, by the policy's globs), whatever they require. */
  environments: string[]
  kind: VerdictKind
  /** What the pull gate would answer, in one line. */
  summary: string
  rows: { rule: string; result: string; message: string; environment?: string }[]
}

/**
 * The policy's word on pulling REPO:TAG (or REPO@DIGEST): the environments the name is in, and the
 * pull gate's verdict, by the same cached offline verify a pull gets. Undefined without --policy, and
 * for a pull-through cache (judged at pull time, through the cache: the UI never asks upstream).
 */
export async function verdictOf(
  ctx: ServeContext,
  name: string,
  digest: Digest,
  tag?: string,
): Promise<UiVerdict | undefined> {
  const sp = ctx.policy
  if (!sp || ctx.mirror) return undefined
  const homes = sp.judges(name, tag).flatMap((j) => (j.home ? [j.home.name] : []))
  const v = await sp.assessPull(storeView(ctx, name), digest, tag)
  const environments = [...new Set([...homes, ...v.environments])]
  const rows = v.rows.map((r) => ({
    rule: r.rule,
    result: r.result,
    message: r.message,
    ...(r.environment ? { environment: r.environment } : {}),
  }))
  if (v.environments.length === 0) {
    return { environments, kind: 'none', summary: 'no signature required', rows }
  }
  if (v.attachment) return { environments, kind: 'none', summary: 'an attachment: always readable', rows }
  if (v.viaIndex)
    return { environments, kind: 'pass', summary: `pullable: its index ${v.viaIndex} verifies`, rows }
  const failed = rows.filter((r) => r.result === 'fail')
  if (failed.length) {
    return { environments, kind: 'fail', summary: `refused: ${failed.map((f) => f.rule).join(', ')}`, rows }
  }
  if (rows.some((r) => r.result === 'warn'))
    return { environments, kind: 'warn', summary: 'pulled with warnings', rows }
  return { environments, kind: 'pass', summary: 'verified', rows }
}
