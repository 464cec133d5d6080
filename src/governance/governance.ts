import type { Policy } from '../policy/load.js'

// Apart from governed.ts, which applies it: a command that is given no policy and no ledger (most runs
// of sync and copy) never imports the policy's checks or the ledger (bench/README.md, "Start-up").

/**
 * What every command that writes or removes a tag or manifest is held to: the policy of the
 * destination's environments and the ledger each attempt is appended to. promote and tag apply the
 * same rules (policy/check.ts) with their own records; `serve --policy` applies them to every client.
 */
export interface Governance {
  /** Undefined: no rule applies (no policy file, or --no-policy); the ledger still records. */
  policy?: Policy
  /** Add this environment's rules to those of the environments the destination matches (never instead). */
  environment?: string
  ledger?: string
  ferryVersion?: string
  /** Who the ledger says acted; default ledgerActor(). */
  actor?: string
}

/** Whether there is anything to judge or record: without either, a write costs no extra request. */
export const governs = (g: Governance | undefined): g is Governance =>
  g !== undefined && (g.policy !== undefined || g.ledger !== undefined)
