import type { RecordedTag } from '../ledger/index.js'

/**
 * What `audit` reports, one finding per tag and problem:
 * - `moved`: a tag the ledger recorded (promoted, tagged) names another digest now;
 * - `gone`: a tag the ledger recorded is no longer there (`manifestGone` says whether its digest went too);
 * - `forbidden`: a tag a `forbid.tags` pattern of its environments matches (`latest` in prod);
 * - `signature`, `sbom`: an image in an environment that requires them does not verify offline with the
 *   policy's keys;
 * - `labels`: a required label is missing.
 */
export type FindingKind = 'moved' | 'gone' | 'forbidden' | 'signature' | 'sbom' | 'labels'

export interface AuditFinding {
  kind: FindingKind
  /**
   * `drift`: what the ledger recorded no longer holds, or an enforce-mode rule fails; `warn`: a rule of a
   * warn-mode environment fails (reported, as `policy check` reports it, and not drift).
   */
  severity: 'drift' | 'warn'
  /** `HOST/PATH:TAG` as the repository was given. */
  image: string
  /** What the tag names now; absent when it is gone. */
  digest?: string
  /** The ledger's last successful record of the tag (moved, gone). */
  recorded?: RecordedTag
  /** moved, gone: the recorded digest is no longer in the repository either. */
  manifestGone?: boolean
  /** The policy rule and its environment (forbidden, signature, sbom, labels). */
  rule?: string
  environment?: string
  /** One line: what is wrong, with both digests and the ledger line where there are. */
  message: string
}

const KIND_ORDER: readonly FindingKind[] = ['moved', 'gone', 'forbidden', 'signature', 'sbom', 'labels']

/** By image, then kind: one repository's findings together, the ledger's first. */
export const byImageAndKind = (a: AuditFinding, b: AuditFinding): number =>
  a.image.localeCompare(b.image) || KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind)
