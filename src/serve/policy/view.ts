import type { ReadOnlyTarget } from '../../content/target.js'
import { refNameOf, splitRefName } from '../../layout/naming.js'
import type { Digest } from '../../oci/digest.js'
import type { ServeContext } from '../context.js'
import { evidenceKey } from './evidence.js'

/**
 * One repository as the policy reads it, whatever serves it: the layout (or bundle) at ROOT, or the
 * pull-through cache. Reads only: nothing here writes or asks a client anything.
 */
export interface PolicyView {
  /** `REPO` as the request names it. */
  repository: string
  /** The repository as a ReadOnlyTarget: what the offline verify reads signatures and SBOMs from. */
  target: ReadOnlyTarget
  /** Every tag of the repository with what it names now. */
  tagged(): Promise<{ tag: string; digest: Digest }[]>
  /** Indexes of the repository (entries, or cached manifests) that list `digest`, directly or below. */
  indexesHolding(digest: Digest): Promise<Digest[]>
  /** A key that changes whenever what attaches to `digest` may have (evidence.ts): verdicts are kept until it does. */
  evidence(digest: Digest): Promise<string>
}

/** The view of a repository of the store (a layout root or a bundle): tags are its index.json entries. */
export function storeView(ctx: ServeContext, repository: string): PolicyView {
  const tagged = async () =>
    (await ctx.store.entriesOf(repository)).flatMap((e) => {
      const refName = refNameOf(e)
      return refName === undefined ? [] : [{ tag: splitRefName(refName).tag, digest: e.digest as Digest }]
    })
  const target = ctx.store.target(repository)
  return {
    repository,
    target,
    tagged,
    indexesHolding: (digest) => ctx.members.indexesHolding(repository, digest),
    evidence: (digest) => evidenceKey(target, digest),
  }
}

/** The tags of the repository that name `digest` now. */
export const tagsNaming = async (view: PolicyView, digest: Digest): Promise<string[]> =>
  (await view.tagged()).filter((t) => t.digest === digest).map((t) => t.tag)
