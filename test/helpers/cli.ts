import { spawn } from 'node:child_process'
import { join } from 'node:path'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built CLI (`npm test` builds first) as a user would, with piped stdio. */
export function ferry(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; killAfterMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
    })
    // A CLI that hangs must not outlive its test: SIGKILL, and the result says so (code null).
    const guard = opts.killAfterMs ? setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs) : undefined
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(guard)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(opts.input ?? '')
  })
}

export interface ServeProcess {
  /** `127.0.0.1:PORT` */
  host: string
  /** False once the process exited (a crash, or after stop). */
  alive(): boolean
  /** Everything it wrote to stdout and stderr so far. */
  output(): string
  /** Sends a signal to the process (SIGHUP: reload). */
  signal(sig: NodeJS.Signals): void
  stop(): Promise<void>
}

/**
 * `ferry serve ARGS --port 0` as a process, ready once it says where it listens; stopped by PID. `exe`
 * runs that executable (the single executable) instead of bin/run.js, with `env` as its whole environment.
 */
export function startFerryServe(
  args: string[],
  opts: { env?: Record<string, string>; exe?: string; cwd?: string } = {},
): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const [cmd, argv] = opts.exe ? [opts.exe, ['serve']] : [process.execPath, [BIN, 'serve']]
    const child = spawn(cmd, [...argv, ...args, '--port', '0'], {
      env: opts.exe ? opts.env : { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let said = ''
    let ready = false
    const listen = (d: Buffer) => {
      said += d
      if (ready) return
      const m = /listening on https?:\/\/(127\.0\.0\.1:\d+)/.exec(said)
      if (!m) return
      ready = true
      resolve({
        host: m[1]!,
        alive: () => child.exitCode === null && child.signalCode === null,
        output: () => said,
        signal: (sig) => child.kill(sig),
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once('exit', () => done())
            child.kill('SIGTERM')
          }),
      })
    }
    child.stderr.on('data', listen)
    child.stdout.on('data', listen)
    child.on('error', reject)
    child.on('exit', (code) => reject(new Error(`ferry serve exited ${code}: ${said}`)))
  })
}
