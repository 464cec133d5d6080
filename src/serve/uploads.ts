import { createHash, type Hash, randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rm, rmdir, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { INGEST_DIR } from '../layout/blobs.js'
import type { Logger } from '../log.js'
import { type Digest, type DigestAlgorithm, parseDigest } from '../oci/digest.js'
import { batchedFileWritable, READ_BYTES } from '../util/batches.js'
import { pidAlive } from '../util/lock.js'
import { ApiError } from './errors.js'
import { detachableBody, type Req } from './http.js'

/**
 * Blob upload sessions (distribution-spec "Pushing blobs"). Each session is a temp file under
 * `ROOT/.uploads/` — outside `blobs/`, so nothing reading the layout ever sees a partial blob — and a
 * SHA-256 state fed as bytes arrive, so closing an upload never re-reads what was already hashed.
 * Each request's bytes are applied whole or not at all: a chunk that fails mid-way is cut off the file
 * and its bytes taken back out of the hash (from a copy of the state taken before it), so the client can
 * ask where the upload stands and go on from there.
 */
export const UPLOADS_DIR = '.uploads'

export interface UploadSession {
  readonly id: string
  readonly name: string
  readonly path: string
  /** Who opened it (the remote address): sessions are capped per client. */
  readonly client: string
  /** Bytes received and kept so far. */
  offset: number
  hash: Hash
  busy: boolean
  timer?: NodeJS.Timeout
}

/** Open sessions allowed at once: each holds a file, so abandoned POSTs must not pile up without end. */
export interface UploadLimits {
  total: number
  perClient: number
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { total: 1000, perClient: 100 }

export class UploadStore {
  private readonly sessions = new Map<string, UploadSession>()
  private readonly perClient = new Map<string, number>()

  private constructor(
    readonly dir: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly limits: UploadLimits,
  ) {}

  /**
   * Prepares the directory and removes what a killed server left behind: upload files and ingest/ partial
   * blobs whose writer process is gone (their names carry its pid), and any older than the timeout.
   */
  static async open(
    root: string,
    timeoutMs: number,
    logger: Logger,
    limits: UploadLimits = DEFAULT_UPLOAD_LIMITS,
  ): Promise<UploadStore> {
    const dir = join(root, UPLOADS_DIR)
    await mkdir(dir, { recursive: true })
    const cutoff = Date.now() - timeoutMs
    const removed =
      (await removeLeftovers(dir, /^(\d+)\.[0-9a-f-]+\.upload$/, cutoff)) +
      (await removeLeftovers(join(root, INGEST_DIR), /\.(\d+)\.[0-9a-f]+\.partial$/, cutoff))
    if (removed) logger.debug(`removed ${removed} leftovers of unfinished uploads in ${root}`)
    return new UploadStore(dir, timeoutMs, logger, limits)
  }

  get size(): number {
    return this.sessions.size
  }

  /** Opens a session for `client`; past a cap, 429 TOOMANYREQUESTS (idle sessions expire after the timeout). */
  async create(name: string, client: string): Promise<UploadSession> {
    const mine = this.perClient.get(client) ?? 0
    if (this.sessions.size >= this.limits.total || mine >= this.limits.perClient) {
      const which =
        mine >= this.limits.perClient
          ? `${mine} open upload sessions from ${client} (--max-upload-sessions-per-client ${this.limits.perClient})`
          : `${this.sessions.size} open upload sessions (--max-upload-sessions ${this.limits.total})`
      throw new ApiError(
        'TOOMANYREQUESTS',
        `upload to ${name} refused: ${which}; finish or cancel one, or retry`,
        {
          headers: { 'Retry-After': '1' },
        },
      )
    }
    const id = randomUUID()
    const path = join(this.dir, `${process.pid}.${id}.upload`)
    this.perClient.set(client, mine + 1)
    try {
      await (await open(path, 'wx')).close()
    } catch (err) {
      this.forget(client)
      throw err
    }
    const session: UploadSession = {
      id,
      name,
      path,
      client,
      offset: 0,
      hash: createHash('sha256'),
      busy: false,
    }
    this.sessions.set(id, session)
    this.arm(session)
    return session
  }

  /** The session, only when it belongs to this repository (an upload id is not a capability across names). */
  get(name: string, id: string): UploadSession {
    const session = this.sessions.get(id)
    if (!session || session.name !== name) {
      throw new ApiError(
        'BLOB_UPLOAD_UNKNOWN',
        `upload ${id} is unknown to ${name} (cancelled, finished or timed out)`,
        {
          detail: { uuid: id },
        },
      )
    }
    return session
  }

  /** Takes the session for one request; its timeout stops running until `release`. */
  acquire(session: UploadSession): void {
    if (session.busy) {
      throw new ApiError('BLOB_UPLOAD_INVALID', `upload ${session.id}: another request is writing to it`)
    }
    session.busy = true
    clearTimeout(session.timer)
  }

  release(session: UploadSession): void {
    session.busy = false
    if (this.sessions.has(session.id)) this.arm(session)
  }

  /**
   * Appends a request body. With `length` (from Content-Range) the body must be exactly that long; extra
   * bytes are read and dropped so the error can still be answered on this connection.
   */
  async append(session: UploadSession, req: Req, length?: number): Promise<void> {
    const start = session.offset
    const before = session.hash.copy()
    let count = 0
    let overflow = false
    const hash = session.hash
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb: TransformCallback) {
        count += chunk.byteLength
        if (length !== undefined && count > length) {
          overflow = true
          return cb()
        }
        hash.update(chunk)
        cb(null, chunk)
      },
    })
    // A failed write (disk full, no descriptors) must leave the request alive to be answered.
    const { body, detach } = detachableBody(req)
    try {
      const file = batchedFileWritable(await open(session.path, 'r+'), { position: start })
      await pipeline(body, tap, file)
      if (length !== undefined && (overflow || count !== length)) {
        throw new ApiError(
          'BLOB_UPLOAD_INVALID',
          `upload ${session.id}: Content-Range announced ${length} bytes, the body had ${count}`,
        )
      }
      session.offset = start + count
    } catch (err) {
      session.hash = before
      await truncate(session.path, start).catch(() => {})
      throw err
    } finally {
      detach()
    }
  }

  /** Checks the received bytes against the digest the client names; the session is unchanged either way. */
  async verify(session: UploadSession, digest: Digest): Promise<void> {
    const { algorithm } = parseDigest(digest)
    const got =
      algorithm === 'sha256'
        ? `sha256:${session.hash.copy().digest('hex')}`
        : await hashFile(session.path, algorithm)
    if (got !== digest) {
      throw new ApiError('DIGEST_INVALID', `uploaded content has digest ${got}, not ${digest}`, {
        detail: { digest },
      })
    }
  }

  async remove(session: UploadSession): Promise<void> {
    clearTimeout(session.timer)
    if (this.sessions.delete(session.id)) this.forget(session.client)
    await rm(session.path, { force: true })
  }

  /** Drops every session and its file; the directory goes too unless another server still uses it. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => this.remove(s)))
    await rmdir(this.dir).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? ''
      if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(code)) throw err
    })
  }

  private forget(client: string): void {
    const left = (this.perClient.get(client) ?? 1) - 1
    if (left > 0) this.perClient.set(client, left)
    else this.perClient.delete(client)
  }

  private arm(session: UploadSession): void {
    clearTimeout(session.timer)
    session.timer = setTimeout(() => {
      if (session.busy) return
      this.logger.debug(`upload ${session.id} to ${session.name} timed out after ${this.timeoutMs} ms`)
      void this.remove(session)
    }, this.timeoutMs)
    session.timer.unref()
  }
}

/** Deletes the files of `dir` whose writer (the pid `pattern` captures) is not running, or older than `cutoff`. */
async function removeLeftovers(dir: string, pattern: RegExp, cutoff: number): Promise<number> {
  let removed = 0
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, entry)
    const st = await stat(path).catch(() => undefined)
    if (!st?.isFile()) continue
    const pid = pattern.exec(entry)?.[1]
    if ((pid !== undefined && !isRunning(Number(pid))) || st.mtimeMs < cutoff) {
      await rm(path, { force: true })
      removed++
    }
  }
  return removed
}

const isRunning = (pid: number): boolean => pid === process.pid || pidAlive(pid)

async function hashFile(path: string, algorithm: DigestAlgorithm): Promise<string> {
  const hash = createHash(algorithm)
  for await (const chunk of createReadStream(path, { highWaterMark: READ_BYTES })) hash.update(chunk)
  return `${algorithm}:${hash.digest('hex')}`
}
