import { spawn } from 'node:child_process'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { redact, rememberSecret } from '../log.js'
import type { Credential } from './credentials.js'

/**
 * docker's credential helper protocol (docker/docker-credential-helpers): `docker-credential-NAME get|store|erase`,
 * the server URL or a JSON record on stdin, JSON on stdout. A helper that knows nothing of the server
 * says "credentials not found in native keychain" and exits non-zero.
 */

const getOutputSchema = z.looseObject({ Username: z.string().optional(), Secret: z.string() })

const NAME_RE = /^[A-Za-z0-9._-]+$/
const DEFAULT_HELPER_TIMEOUT_MS = 60_000
/** A credential record is a few KiB; more is a broken or hostile helper, stopped before it fills memory. */
export const HELPER_OUTPUT_MAX_BYTES = 1024 * 1024
/** After the helper exits, how long a process it left behind may keep our pipes open. */
const AFTER_EXIT_GRACE_MS = 1000

type Verb = 'get' | 'store' | 'erase'

interface HelperResult {
  code: number
  stdout: string
  stderr: string
}

/** FERRY_CREDENTIAL_HELPER_TIMEOUT (seconds) overrides the 60 s a helper may take. */
function helperTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FERRY_CREDENTIAL_HELPER_TIMEOUT
  if (raw === undefined || raw === '') return DEFAULT_HELPER_TIMEOUT_MS
  const seconds = Number(raw)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new FerryError(
      'USAGE',
      `FERRY_CREDENTIAL_HELPER_TIMEOUT must be a positive number of seconds, not "${raw.slice(0, 40)}"`,
    )
  }
  return seconds * 1000
}

/**
 * The helper runs in its own process group, and the whole group is killed: on timeout, on oversized
 * output, and when a process it started still holds stdout after it exited. Killing only the helper
 * left such a child holding the pipe, and ferry waited for an end of file that never came.
 */
function run(name: string, verb: Verb, input: string): Promise<HelperResult> {
  if (!NAME_RE.test(name)) {
    return Promise.reject(new FerryError('CREDENTIALS', `invalid credential helper name "${name}"`))
  }
  const program = `docker-credential-${name}`
  let timeoutMs: number
  try {
    timeoutMs = helperTimeoutMs()
  } catch (err) {
    return Promise.reject(err)
  }
  return new Promise((resolve, reject) => {
    const child = spawn(program, [verb], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let size = 0
    let exitCode: number | undefined
    let settled = false
    let graceTimer: NodeJS.Timeout | undefined
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // ESRCH: the group is already gone.
      }
    }
    const finish = (outcome: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(graceTimer)
      child.stdout.destroy()
      child.stderr.destroy()
      outcome()
    }
    const result = (): HelperResult => ({
      code: exitCode ?? 1,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    })
    const timer = setTimeout(() => {
      killGroup()
      finish(() =>
        reject(
          new FerryError(
            'CREDENTIALS',
            `credential helper ${program} ${verb}: no answer within ${timeoutMs / 1000} s`,
          ),
        ),
      )
    }, timeoutMs)
    const collect = (into: Buffer[]) => (d: Buffer) => {
      size += d.length
      if (size > HELPER_OUTPUT_MAX_BYTES) {
        killGroup()
        finish(() =>
          reject(
            new FerryError(
              'CREDENTIALS',
              `credential helper ${program} ${verb}: output exceeds ${HELPER_OUTPUT_MAX_BYTES} bytes`,
            ),
          ),
        )
        return
      }
      into.push(d)
    }
    child.stdout.on('data', collect(out))
    child.stderr.on('data', collect(err))
    child.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? 'not found on PATH' : (e.code ?? 'failed to start')
      finish(() => reject(new FerryError('CREDENTIALS', `credential helper ${program}: ${why}`)))
    })
    child.on('exit', (code) => {
      exitCode = code ?? 1
      graceTimer = setTimeout(() => {
        killGroup()
        finish(() => resolve(result()))
      }, AFTER_EXIT_GRACE_MS)
    })
    child.on('close', () => finish(() => resolve(result())))
    // The helper may exit without reading stdin; that is its business, not an error of ours.
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

const notFound = (r: HelperResult) => /credentials not found/i.test(r.stdout + r.stderr)

// A helper's complaint is quoted in our message; it is redacted and cut to one line in case it echoes input.
function failure(name: string, verb: Verb, server: string, r: HelperResult): FerryError {
  const said = redact((r.stdout.trim() || r.stderr.trim()).split('\n')[0] ?? '').slice(0, 200)
  return new FerryError(
    'CREDENTIALS',
    `credential helper docker-credential-${name} ${verb} for ${server} failed (exit ${r.code})${said ? `: ${said}` : ''}`,
  )
}

export async function helperGet(name: string, server: string): Promise<Credential | undefined> {
  const r = await run(name, 'get', server)
  if (r.code !== 0) {
    if (notFound(r)) return undefined
    throw failure(name, 'get', server, r)
  }
  let parsed: z.infer<typeof getOutputSchema>
  try {
    parsed = getOutputSchema.parse(JSON.parse(r.stdout))
  } catch {
    throw new FerryError(
      'CREDENTIALS',
      `credential helper docker-credential-${name} gave unreadable output for ${server}`,
    )
  }
  // docker's convention: the user name `<token>` marks the secret as an identity (refresh) token.
  if (parsed.Username === '<token>') return { identityToken: parsed.Secret }
  return { username: parsed.Username ?? '', password: parsed.Secret }
}

export async function helperStore(
  name: string,
  server: string,
  username: string,
  secret: string,
): Promise<void> {
  rememberSecret(secret)
  const r = await run(
    name,
    'store',
    JSON.stringify({ ServerURL: server, Username: username, Secret: secret }),
  )
  if (r.code !== 0) throw failure(name, 'store', server, r)
}

/** False when the helper held nothing for this server. */
export async function helperErase(name: string, server: string): Promise<boolean> {
  const r = await run(name, 'erase', server)
  if (r.code === 0) return true
  if (notFound(r)) return false
  throw failure(name, 'erase', server, r)
}
