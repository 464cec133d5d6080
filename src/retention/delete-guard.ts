import { resolveIfPresent } from '../content/present.js'
import type { OperationOptions, Target } from '../content/target.js'
import type { GraphReader } from '../graph/index.js'
import type { Digest } from '../oci/digest.js'
import { parseAttachmentTag } from '../reference/grammar.js'
import { Limiter } from '../util/limit.js'
import { type RepositoryPlan, reach } from './plan.js'

/**
 * The check just before each manifest DELETE, whether the digest comes from the fresh plan or from an
 * interrupted run's journal. The registry API has no conditional DELETE, and a run can be long (or a
 * journal old): a tag pushed meanwhile (`hotfix` on an old digest) must not go with the digest. So the
 * tags are listed again, and every tag the plan does not remove is resolved; a digest one of them names,
 * or reaches (index child, referrer), is left alone. This shrinks the window from the whole run to one
 * request. Tags the plan removes are trusted by name (the policy removes them whatever they name), which
 * keeps the cost at one listing plus one HEAD per kept or new tag for each DELETE.
 */
export class DeleteGuard {
  /** Tags the plan removes; a tag whose untag was skipped (it moved) stops being one. */
  private readonly going: Set<string>
  private readonly reached = new Map<string, Promise<ReadonlySet<string> | undefined>>()
  private readonly limiter = new Limiter(8)

  constructor(
    private readonly target: Target,
    private readonly reader: GraphReader,
    plan: RepositoryPlan,
    private readonly opts: OperationOptions = {},
  ) {
    this.going = new Set([...plan.delete.map((d) => d.tag), ...plan.placeholders.map((p) => p.tag)])
  }

  /** `tag` stays after all (its untag was skipped): from now on it protects what it names. */
  spare(tag: string): void {
    this.going.delete(tag)
  }

  /**
   * Why `digest` must stay: the tags (outside the plan's removals) that name or reach it now, e.g.
   * `hotfix` or `multi (through sha256:…)`; empty when it may be deleted. A listing that cannot be read
   * whole fails, and with it the DELETE.
   */
  async holders(digest: Digest): Promise<string[]> {
    const tags = (await this.target.listTags(this.opts)).filter(
      (t) => parseAttachmentTag(t) === undefined && !this.going.has(t),
    )
    const found = await Promise.all(
      tags.map((tag) =>
        this.limiter.run(async () => {
          const now = (await resolveIfPresent(this.target, tag, this.opts))?.digest
          if (now === undefined) return undefined
          if (now === digest) return tag
          const reached = await this.reachOf(now)
          if (!reached) return `${tag} (what ${now} reaches could not be read)`
          return reached.has(digest) ? `${tag} (through ${now})` : undefined
        }),
      ),
    )
    return found.filter((h): h is string => h !== undefined)
  }

  /** What a digest reaches, read once per run (content-addressed: only its attachments can grow). */
  private reachOf(digest: string): Promise<ReadonlySet<string> | undefined> {
    let p = this.reached.get(digest)
    if (!p) {
      p = reach(this.reader, digest).then(
        (ds) => new Set(ds),
        () => undefined,
      )
      this.reached.set(digest, p)
    }
    return p
  }
}
