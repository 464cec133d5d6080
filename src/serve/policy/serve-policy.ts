import type { Logger } from '../../log.js'
import type { Digest } from '../../oci/digest.js'
import type { Manifest } from '../../oci/manifest.js'
import {
  describeCheck,
  failuresOf,
  type ImageName,
  type Judges,
  judgesFor,
  loadPolicy,
  type Policy,
  type PolicyCheck,
  refusalReason,
} from '../../policy/index.js'
import { ApiError } from '../errors.js'
import { defaultServeNames } from './names.js'
import { PullGate, type PullVerdict } from './pull-gate.js'
import { admitDelete, admitPush } from './push-rules.js'
import type { PolicyView } from './view.js'

export type PolicyReload = { ok: true; environments: number } | { ok: false; reason: string }

/**
 * `serve --policy FILE`: the policy the registry holds every client to, whoever it is (skopeo, podman,
 * crane, ferry). Writes are judged by the functions promote and tag use (policy/check.ts), pulls in an
 * environment that requires a signature or SBOM by the offline verify against the registry's own store.
 * SIGHUP reloads the file; one that does not load keeps the previous policy.
 */
export class ServePolicy {
  private readonly gate: PullGate
  private names: string[] = []
  /** Bumped by each reload that took: verdicts of an earlier policy are not reused. */
  generation = 0
  /** Refused requests since start, by action (PUT, GET, DELETE) and each blocking rule: for `/metrics`. */
  private readonly refused = new Map<string, { action: string; rule: string; count: number }>()

  private constructor(
    readonly file: string,
    private current: Policy,
    private readonly fixedNames: string[] | undefined,
    readonly logger: Logger,
  ) {
    this.gate = new PullGate(this)
    if (fixedNames?.length) this.names = fixedNames
  }

  /** Loads FILE (with its keys); a file that does not load refuses to start the server. */
  static async open(file: string, names: string[] | undefined, logger: Logger): Promise<ServePolicy> {
    return new ServePolicy(file, await loadPolicy(file), names, logger)
  }

  get policy(): Policy {
    return this.current
  }

  /** Once listening: without --name, the registry goes by its listen address and `localhost:PORT`. */
  listening(host: string, port: number): void {
    if (!this.fixedNames?.length) this.names = defaultServeNames(host, port)
  }

  /** The registry names the globs are matched with. */
  get registryNames(): readonly string[] {
    return this.names
  }

  /** Refusals since start, one entry per action and rule. */
  refusals(): { action: string; rule: string; count: number }[] {
    return [...this.refused.values()]
  }

  async reload(): Promise<PolicyReload> {
    try {
      this.current = await loadPolicy(this.file)
      this.generation++
      return { ok: true, environments: this.current.environments.length }
    } catch (err) {
      // One line: a file with several problems lists them on lines of their own.
      const reason = (err instanceof Error ? err.message : String(err)).split('\n').join('; ')
      this.logger.warn(`policy ${this.file} not reloaded, the previous policy stays in force: ${reason}`)
      return { ok: false, reason }
    }
  }

  /** `REPO[:TAG]` under each name this registry goes by: a rule applies whichever name a client used. */
  imageNames(repository: string, tag?: string): ImageName[] {
    return this.names.map((host) => ({ host, repository, ...(tag === undefined ? {} : { tag }) }))
  }

  judges(repository: string, tag?: string): Judges[] {
    return this.imageNames(repository, tag).map((name) => judgesFor(this.current, name))
  }

  /** The environment `REPO[:TAG]` falls in (the first matched under any name), as the ledger records it. */
  environmentOf(repository: string, tag?: string): string | null {
    for (const j of this.judges(repository, tag)) if (j.home) return j.home.name
    return null
  }

  /** A manifest PUT; answers what the tag named before (the write is made on that condition). */
  admitPush(view: PolicyView, manifest: Manifest, tag?: string): Promise<Digest | undefined> {
    return admitPush(this, view, manifest, tag)
  }

  admitDelete(view: PolicyView, ref: { tag?: string; digest?: Digest }): Promise<void> {
    return admitDelete(this, view, ref)
  }

  /** A manifest GET or HEAD of `digest` (asked for by `tag`, or by the digest itself). */
  admitPull(view: PolicyView, digest: Digest, tag?: string): Promise<void> {
    return this.gate.admit(view, digest, tag)
  }

  /** What the pull gate would decide for `digest` (by `tag`, or by digest), without refusing anything. */
  assessPull(view: PolicyView, digest: Digest, tag?: string): Promise<PullVerdict> {
    return this.gate.assess(view, digest, tag)
  }

  /**
   * The rows of every name's judgement, each once: warnings are logged, blocking failures refuse the
   * request with 403 DENIED naming the first rule, its environment and why.
   */
  enforce(action: string, what: string, rows: readonly PolicyCheck[]): void {
    const unique = [...new Map(rows.map((r) => [describeCheck(r), r])).values()]
    for (const w of unique.filter((r) => r.result === 'warn')) {
      this.logger.warn(`${action} ${what}: policy warning: ${describeCheck(w)}`)
    }
    const failures = failuresOf({ checks: unique })
    if (failures.length === 0) return
    for (const rule of new Set(failures.map((f) => f.rule))) {
      const key = `${action} ${rule}`
      const entry = this.refused.get(key) ?? { action, rule, count: 0 }
      entry.count++
      this.refused.set(key, entry)
    }
    const message = `${what}: ${refusalReason(failures)}`
    this.logger.warn(`${action} ${message}: refused`)
    throw new ApiError('DENIED', message, {
      detail: { checks: failures.map((f) => ({ rule: f.rule, environment: f.environment ?? null })) },
    })
  }
}
