/**
 * What an operation reports as it goes, one type for all of them: a copy (and sync, promote and bundle
 * import, which copy), a bundle written (`bundle create`) and a bundle verified (`bundle verify`,
 * import's first pass, the bundles `serve` opens). The library never prints; the CLI renders these as
 * bars on a terminal (cli/progress.ts), a library caller as it likes.
 */
export type ProgressEvent =
  /** Work on `subject` (an image, a bundle file) starts: `total` units to go, over `items` blobs. */
  | {
      type: 'start'
      phase: ProgressPhase
      subject: string
      unit: ProgressUnit
      total: number
      items?: number
    }
  /** `done` more units of `subject`'s work passed (an increment); `item` names the blob they belong to. */
  | { type: 'advance'; phase: ProgressPhase; subject: string; done: number; item?: string }
  /**
   * One item of `subject` finished: a blob (its bytes came as `advance` when `copied`; not at all when
   * `skipped` or `mounted`) or a manifest (`pushed` or `skipped`, `tag` when it was tagged).
   */
  | {
      type: 'item'
      phase: ProgressPhase
      subject: string
      kind: 'blob' | 'manifest'
      digest: string
      size: number
      outcome: ItemOutcome
      tag?: string
    }

/** `copy`: blobs and manifests moved to a target; `bundle-write`: a bundle's tar; `verify`: a bundle read and hashed. */
export type ProgressPhase = 'copy' | 'bundle-write' | 'verify'

export type ProgressUnit = 'bytes'

export type ItemOutcome = 'copied' | 'skipped' | 'mounted' | 'pushed'

export type ProgressSink = (event: ProgressEvent) => void

/** Where progress goes when nobody listens. */
export const ignoreProgress: ProgressSink = () => {}
