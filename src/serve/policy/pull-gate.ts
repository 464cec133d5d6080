import type { Digest } from '../../oci/digest.js'
import {
  checkEvidence,
  type Environment,
  evidenceEnvironments,
  failuresOf,
  type PolicyCheck,
} from '../../policy/index.js'
import { nextChange } from '../../sign/trust.js'
import { isAttachment } from './attachments.js'
import type { ServePolicy } from './serve-policy.js'
import { type PolicyView, tagsNaming } from './view.js'

// Verdicts kept at once; past it the cache starts over (each verdict is one offline verify to redo).
const VERDICTS_MAX = 10_000

/** Whether a pull of one manifest passes the gate, and the rows that say why. */
export interface PullVerdict {
  /** The environments whose signature and SBOM rules judge it; none: no gate stands here. */
  environments: string[]
  /** Their signature and SBOM rows (the offline verify); a failure blocks the pull. */
  rows: PolicyCheck[]
  /** An attachment (signature, SBOM): always readable. */
  attachment?: true
  /** A platform image readable because this index, which lists it, verifies. */
  viaIndex?: Digest
}

interface Verdict {
  /** What the evidence looked like when it was judged (see evidenceKey). */
  evidence: string
  rows: PolicyCheck[]
  /** When a key's window opens or closes (ms since the epoch): the verdict is judged again from then. */
  until?: number
}

/**
 * The pull gate: in an environment whose policy requires a signature (and an SBOM), a manifest is served
 * only when it verifies with one of the environment's keys, against this registry's own store, offline.
 *
 * Gated: every manifest asked for by tag, and by digest every manifest but two kinds, which stay
 * readable so that verification and multi-arch pulls work:
 * - attachments (signatures, SBOMs, attestations, referrers indexes: attachments.ts), which carry no
 *   file system: a runtime cannot run them, and verifiers must read them;
 * - a child of an index that verifies. A client pulls a multi-arch image by reading the index (by tag
 *   or digest, gated) and then each platform's manifest by digest, and signers sign the index. A child
 *   is recognised by the repository's own record (the indexes that list it, reachable.ts), never by
 *   what the client says, and admitted only while such an index verifies now; an image pinned by its
 *   platform digest is admitted the same way.
 * Blobs, referrers listings and tags lists are not gated: a blob is content by digest and runs nothing
 * without a manifest, and the evidence must be readable to be checked. Nor is a HEAD: it carries no
 * manifest, only the digest, media type and size, which is what a signer needs to sign the image after
 * it was pushed (`ferry sign`, `cosign sign` and `ferry attach sbom` resolve a tag by HEAD), and from
 * which no runtime can run anything: containerd and docker resolve by HEAD and then GET the manifest,
 * and that GET is gated.
 *
 * The environments: those of `REPO:TAG` for a pull by tag; for a pull by digest, those of `REPO` and of
 * every tag naming the digest (an environment matched by tag still covers its images by digest).
 * Verdicts are cached per repository and digest, and judged again when the evidence changes (a new
 * signature, SBOM, or a re-signing), when one of the keys' notBefore or notAfter passes, or when the
 * policy is reloaded.
 */
export class PullGate {
  private readonly verdicts = new Map<string, Verdict>()

  constructor(private readonly sp: ServePolicy) {}

  async admit(view: PolicyView, digest: Digest, tag?: string): Promise<void> {
    const v = await this.assess(view, digest, tag)
    if (v.environments.length === 0 || v.attachment || v.viaIndex) return
    const what = tag === undefined ? `${view.repository}@${digest}` : `${view.repository}:${tag}`
    this.sp.enforce('GET', what, v.rows)
  }

  /** What `admit` decides, without refusing: the UI shows it next to each tag and image. */
  async assess(view: PolicyView, digest: Digest, tag?: string): Promise<PullVerdict> {
    const tags = tag === undefined ? await tagsNaming(view, digest) : [tag]
    const envs = this.environments(view, tags, tag === undefined)
    if (envs.length === 0) return { environments: [], rows: [] }
    const environments = envs.map((e) => e.name)
    const load = (d: Digest) => view.target.fetchManifest(d)
    if (await isAttachment(await load(digest), tags, load))
      return { environments, rows: [], attachment: true }
    const rows = await this.verdict(view, digest, envs)
    if (tag === undefined && failuresOf({ checks: rows }).length > 0) {
      for (const index of await view.indexesHolding(digest)) {
        // The index answers for the child under the child's environments too, not only its own.
        const ofIndex = union(envs, this.environments(view, await tagsNaming(view, index), true))
        if (failuresOf({ checks: await this.verdict(view, index, ofIndex) }).length === 0)
          return { environments, rows, viaIndex: index }
      }
    }
    return { environments, rows }
  }

  /** The environments of REPO under each tag, and of REPO alone for a pull by digest. */
  private environments(view: PolicyView, tags: readonly string[], byDigest: boolean): Environment[] {
    const judges = [
      ...(byDigest ? this.sp.judges(view.repository) : []),
      ...tags.flatMap((t) => this.sp.judges(view.repository, t)),
    ]
    return union(...judges.map(evidenceEnvironments))
  }

  private async verdict(view: PolicyView, digest: Digest, envs: Environment[]): Promise<PolicyCheck[]> {
    if (envs.length === 0) return []
    const key = [this.sp.generation, view.repository, digest, ...envs.map((e) => e.name)].join('\0')
    const evidence = await view.evidence(digest)
    const cached = this.verdicts.get(key)
    const now = new Date()
    if (cached?.evidence === evidence && (cached.until === undefined || now.getTime() < cached.until))
      return cached.rows
    const rows = await checkEvidence(envs, view.target, digest)
    if (this.verdicts.size >= VERDICTS_MAX) this.verdicts.clear()
    const until = nextChange(
      envs.flatMap((e) => e.keys),
      now,
    )
    this.verdicts.set(key, { evidence, rows, ...(until === undefined ? {} : { until }) })
    return rows
  }
}

/** Each environment once, in the order first met. */
function union(...lists: Environment[][]): Environment[] {
  const envs = new Map<string, Environment>()
  for (const list of lists) for (const env of list) if (!envs.has(env.name)) envs.set(env.name, env)
  return [...envs.values()]
}
