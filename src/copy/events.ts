/** What a copy reports as it goes; the CLI renders it (bars on a TTY), the library never prints. */
export type CopyEvent =
  | { type: 'plan'; image: string; blobs: number; bytes: number }
  | { type: 'blob-progress'; image: string; digest: string; bytes: number }
  | { type: 'blob-done'; image: string; digest: string; size: number; outcome: BlobOutcome }
  | { type: 'manifest-done'; image: string; digest: string; outcome: 'pushed' | 'skipped'; tag?: string }

export type BlobOutcome = 'copied' | 'skipped' | 'mounted'

export type CopyEventSink = (event: CopyEvent) => void
