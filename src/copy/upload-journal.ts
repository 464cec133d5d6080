import { mkdir, readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import { type Logger, redact, silentLogger } from '../log.js'
import { writeFileAtomic } from '../util/files.js'
import { withLock } from '../util/lock.js'
import { ferryStateDir } from '../util/state-dir.js'

/**
 * Where large uploads stood when ferry last stopped: destination + blob digest → the registry's upload
 * session. A rerun (after a crash, a cut link, ^C) asks the registry what the session holds and sends
 * only the rest. Losing the file costs a full upload, never correctness: the registry verifies the
 * digest of the whole at the commit. Upload URLs are capabilities (the session is open to whoever holds
 * one): the file is private to the user (0600) and a URL's query is never logged.
 */

export const DEFAULT_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000 // distribution purges sessions after 168h

export interface JournalEntry {
  location: string
  offset: number
  size: number
  /** ISO 8601 time of the last acknowledged chunk. */
  updated: string
}

export interface UploadJournalOptions {
  logger?: Logger
  /** Entries older than this are dropped. Default 7 days. */
  maxAgeMs?: number
  now?: () => number
}

const httpUrl = (s: string) => {
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol)
  } catch {
    return false
  }
}

const entrySchema = z.looseObject({
  location: z.string().refine(httpUrl, 'not an http(s) URL'),
  offset: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
  updated: z.iso.datetime({ offset: true }),
})
const fileSchema = z.looseObject({ version: z.literal(1), uploads: z.record(z.string(), entrySchema) })

type Entries = Record<string, JournalEntry>

/** `$XDG_STATE_HOME/ferry/uploads.json`; the XDG base directory spec ignores a relative value. */
export function defaultJournalPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(ferryStateDir(env, home), 'uploads.json')
}

/** For logs: the session's path, never its query (which may carry a token). */
export const sessionPath = (location: string): string => redact(new URL(location).pathname)

const keyOf = (destination: string, digest: string) => `${destination}@${digest}`
const errnoOf = (err: unknown) => (err as { code?: string })?.code ?? String(err)

/** One journal file's queue of changes: shared by every UploadJournal of this process that names it. */
interface JournalFile {
  pending: Map<string, JournalEntry | null>
  writing: Promise<void>
  queued: boolean
  /**
   * The file as this process last read or wrote it: lookups read the disk once per process, not once
   * per blob. Another process's entry written since is missed, which costs only a resume (whole upload).
   */
  entries?: Promise<Entries>
}

const files = new Map<string, JournalFile>()

function fileAt(path: string): JournalFile {
  const key = resolve(path)
  let file = files.get(key)
  if (!file) {
    file = { pending: new Map(), writing: Promise.resolve(), queued: false }
    files.set(key, file)
  }
  return file
}

/**
 * The journal file. Every UploadJournal of one path in this process shares one queue of changes (sync's
 * concurrent copies each open one), written by one writer at a time and coalesced (at most one write per
 * acknowledged chunk). Each write is a read-merge-rename under a lock file, so concurrent processes
 * merge too and never leave a torn file or drop each other's entries (the last writer wins an entry
 * both touched). A failed write keeps its changes for the next one; failures are warnings.
 */
export class UploadJournal {
  private readonly logger: Logger
  private readonly maxAgeMs: number
  private readonly now: () => number
  private readonly file: JournalFile
  private warned = false

  constructor(
    readonly path: string,
    opts: UploadJournalOptions = {},
  ) {
    this.logger = opts.logger ?? silentLogger
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS
    this.now = opts.now ?? Date.now
    this.file = fileAt(path)
  }

  async get(destination: string, digest: string): Promise<JournalEntry | undefined> {
    const key = keyOf(destination, digest)
    if (this.file.pending.has(key)) return this.file.pending.get(key) ?? undefined
    this.file.entries ??= this.load()
    const entry = (await this.file.entries)[key]
    return entry && this.fresh(entry) ? entry : undefined
  }

  record(destination: string, digest: string, entry: Omit<JournalEntry, 'updated'>): void {
    const { location, offset, size } = entry
    const updated = new Date(this.now()).toISOString()
    this.file.pending.set(keyOf(destination, digest), { location, offset, size, updated })
    this.schedule()
  }

  forget(destination: string, digest: string): void {
    this.file.pending.set(keyOf(destination, digest), null)
    this.schedule()
  }

  /** Resolves once every change made so far is on disk (or failed with a warning); never rejects. */
  settled(): Promise<void> {
    return this.file.writing
  }

  private schedule(): void {
    const file = this.file
    if (file.queued) return
    file.queued = true
    file.writing = file.writing.then(() => {
      file.queued = false
      return this.flush()
    })
  }

  private async load(): Promise<Entries> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') this.warn(`cannot be read (${errnoOf(err)})`)
      return {}
    }
    let parsed: z.infer<typeof fileSchema>
    try {
      parsed = fileSchema.parse(JSON.parse(text))
    } catch {
      // Damaged or from an unknown version: resuming is an optimisation, so start over without it.
      this.warn('is not a valid upload journal; ignoring it')
      return {}
    }
    const kept: Entries = {}
    for (const [key, e] of Object.entries(parsed.uploads)) if (this.fresh(e)) kept[key] = { ...e }
    return kept
  }

  private fresh(e: JournalEntry): boolean {
    return Date.parse(e.updated) >= this.now() - this.maxAgeMs
  }

  private async flush(): Promise<void> {
    const { pending } = this.file
    const changes = [...pending]
    pending.clear()
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
      await withLock(`${this.path}.lock`, { logger: this.logger }, async () => {
        const entries = await this.load()
        let changed = false
        for (const [key, entry] of changes) {
          if (entry) entries[key] = entry
          else if (!(key in entries)) continue
          else delete entries[key]
          changed = true
        }
        if (changed) await this.write(entries)
        this.file.entries = Promise.resolve(entries)
      })
    } catch (err) {
      // Kept for the next write, unless a newer change to the same upload came in meanwhile.
      for (const [key, entry] of changes) if (!pending.has(key)) pending.set(key, entry)
      this.logger.warn(`upload journal ${this.path}: not written (${errnoOf(err)})`)
    }
  }

  private async write(entries: Entries): Promise<void> {
    const text = `${JSON.stringify({ version: 1, uploads: entries }, null, 2)}\n`
    await writeFileAtomic(this.path, new TextEncoder().encode(text), 0o600)
  }

  private warn(what: string): void {
    if (this.warned) return
    this.warned = true
    this.logger.warn(`upload journal ${this.path} ${what}`)
  }
}
