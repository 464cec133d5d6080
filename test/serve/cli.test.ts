import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { startDistribution } from '../helpers/distribution.js'

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

  it('removes what a serve killed with SIGKILL mid-upload left (ingest/*.partial, .uploads) when it starts again', async () => {
    const base = await mkdtemp(join(tmpdir(), 'ferry-serve-kill-'))
    const root = join(base, 'root')
    const running: ChildProcess[] = []
    const startBuilt = async () => {
      const proc = spawn(
        process.execPath,
        [join(repoRoot, 'bin/run.js'), 'serve', '--root', root, '--port', '0'],
        {
          cwd: repoRoot,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      running.push(proc)
      let stderr = ''
      const port = await new Promise<number>((ok, fail) => {
        proc.stderr!.on('data', (d) => {
          stderr += d
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr)
          if (m) ok(Number(m[1]))
        })
        proc.once('exit', (code) => fail(new Error(`exited ${code}: ${stderr}`)))
      })
      return { proc, port }
    }
    /** Sends the headers and the first 1000 of `length` bytes, and leaves the request hanging. */
    const hang = (port: number, method: string, path: string, length: number) => {
      const req = request({
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': length },
      })
      req.on('error', () => {})
      req.write(randomBytes(1000))
    }
    const until = async (check: () => Promise<boolean>) => {
      for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 25))
    }
    const sizes = async (dir: string) =>
      Promise.all(
        (await readdir(join(root, dir)).catch(() => [] as string[])).map(
          async (e) => (await stat(join(root, dir, e))).size,
        ),
      )
    try {
      const first = await startBuilt()
      const post = await fetch(`http://127.0.0.1:${first.port}/v2/app/blobs/uploads/`, { method: 'POST' })
      expect(post.status).toBe(202)
      hang(first.port, 'PATCH', post.headers.get('location')!, 100_000)
      hang(first.port, 'POST', `/v2/app/blobs/uploads/?digest=sha256:${'a'.repeat(64)}`, 100_000)
      await until(
        async () => (await sizes('.uploads')).includes(1000) && (await sizes('ingest')).includes(1000),
      )
      expect(await sizes('.uploads')).toEqual([1000])
      expect(await sizes('ingest')).toEqual([1000])
      const killed = new Promise((ok) => first.proc.once('exit', ok))
      first.proc.kill('SIGKILL')
      await killed

      const second = await startBuilt()
      expect(await readdir(join(root, '.uploads'))).toEqual([])
      expect(await readdir(join(root, 'ingest'))).toEqual([])
      const bytes = randomBytes(5000)
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`
      const pushed = await fetch(`http://127.0.0.1:${second.port}/v2/app/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        body: bytes,
        headers: { 'Content-Type': 'application/octet-stream' },
      })
      expect(pushed.status).toBe(201)
      expect(
        Buffer.from(
          await (await fetch(`http://127.0.0.1:${second.port}/v2/app/blobs/${digest}`)).arrayBuffer(),
        ).equals(bytes),
      ).toBe(true)
    } finally {
      for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
      await rm(base, { recursive: true, force: true })
    }
  }, 60_000)

  it('--upstream: a pull-through cache whose cached image still pulls once upstream is stopped', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ferry-serve-cli-'))
    const upstream = await startDistribution()
    const client = new RegistryClient()
    const run = promisify(execFile)
    let proc: ChildProcess | undefined
    let stopped = false
    try {
      const image = await pushSyntheticImage(
        client.repository({ registry: upstream.host, repository: 'team/app' }),
        { seed: 'cli-mirror', layers: 2, layerSize: 100_000 },
        '1.0',
      )
      const args = [
        '--root',
        join(work, 'root'),
        '--port',
        '0',
        '--upstream',
        upstream.url,
        '--upstream-ttl',
        '0s',
      ]
      proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry, '--', ...args], {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      const host = await new Promise<string>((ok, fail) => {
        proc!.stderr!.on('data', (d) => {
          stderr += d
          const m = /listening on http:\/\/(127\.0\.0\.1:\d+) \(pull-through cache of /.exec(stderr)
          if (m) ok(m[1]!)
        })
        proc!.once('exit', (code) => fail(new Error(`exited ${code}: ${stderr}`)))
      })
      const pull = async (n: number) => {
        const dest = join(work, `pull-${n}`)
        await run('skopeo', [
          'copy',
          '--preserve-digests',
          '--src-tls-verify=false',
          `docker://${host}/team/app:1.0`,
          `oci:${dest}:x`,
        ])
        return (await run('skopeo', ['inspect', '--raw', `oci:${dest}:x`])).stdout
      }
      const first = await pull(1)
      await upstream.stop()
      stopped = true
      expect(await pull(2)).toBe(first)
      expect(first).toBe(Buffer.from(image.bytes).toString())
      expect(stderr).toMatch(/team\/app:1\.0: upstream unavailable .*serving the stale mapping sha256:/)
      const exited = new Promise<number | null>((ok) => proc!.once('exit', ok))
      proc.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      if (proc?.exitCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL')
      await client.close()
      if (!stopped) await upstream.stop()
      await rm(work, { recursive: true, force: true })
    }
  }, 90_000)
})
