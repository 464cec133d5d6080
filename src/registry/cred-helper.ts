import { spawn } from 'node:child_process'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { redact } from '../log.js'
import type { Credential } from './credentials.js'

/**
 * docker's credential helper protocol (docker/docker-credential-helpers): `docker-credential-NAME get|store|erase`,
 * the server URL or a JSON record on stdin, JSON on stdout. A helper that knows nothing of the server
 * says "credentials not found in native keychain" and exits non-zero.
 */

const getOutputSchema = z.looseObject({ Username: z.string().optional(), Secret: z.string() })

const NAME_RE = /^[A-Za-z0-9._-]+$/
const HELPER_TIMEOUT_MS = 60_000

type Verb = 'get' | 'store' | 'erase'

interface HelperResult {
  code: number
  stdout: string
  stderr: string
}

function run(name: string, verb: Verb, input: string): Promise<HelperResult> {
  if (!NAME_RE.test(name)) {
    return Promise.reject(new FerryError('CREDENTIALS', `invalid credential helper name "${name}"`))
  }
  const program = `docker-credential-${name}`
  return new Promise((resolve, reject) => {
    const child = spawn(program, [verb], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS)
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      const why = err.code === 'ENOENT' ? 'not found on PATH' : (err.code ?? 'failed to start')
      reject(new FerryError('CREDENTIALS', `credential helper ${program}: ${why}`))
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? 1, stdout, stderr })
    })
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
