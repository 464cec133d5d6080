import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'

const repoRoot = resolve(import.meta.dirname, '../..')
// Runs the command from source (tsx), so the test needs no build of the whole project.
const entry = `import Serve from ${JSON.stringify(join(repoRoot, 'commands/serve.ts'))}
await Serve.run(process.argv.slice(1), ${JSON.stringify(repoRoot)})`

describe('ferry serve (command)', () => {
  let dir: string | undefined
  let child: ChildProcess | undefined

  afterAll(async () => {
    if (child?.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL')
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('prints where it listens, serves, and stops cleanly on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-cli-'))
    const root = join(dir, 'root')
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', entry, '--', '--root', root, '--port', '0'],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = proc
    let stderr = ''
    const url = await new Promise<string>((ok, fail) => {
      proc.stderr!.on('data', (d) => {
        stderr += d
        const m = /^ferry serve: listening on (http:\/\/127\.0\.0\.1:\d+) \(root (.+)\)$/m.exec(stderr)
        if (m) ok(m[1]!)
      })
      proc.once('exit', (code) => fail(new Error(`exited ${code}: ${stderr}`)))
    })
    expect(stderr).toContain(`(root ${root})`)
    const res = await fetch(`${url}/v2/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0')

    const exited = new Promise<number | null>((ok) => proc.once('exit', ok))
    proc.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stderr).toContain('SIGTERM, shutting down')
    expect((await readdir(root)).sort()).toEqual(['blobs', 'index.json', 'oci-layout'])
  }, 60_000)
})
