import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const MiB = 1024 * 1024
// The CLI's chunk size: the first PATCH carries this much, so a resumed upload starts here.
const CHUNK = 16 * MiB

// The proxy in front of the destination stands in for a link that dies after the first chunk (no real
// part does that on demand on loopback), and then for a slow one, so a Ctrl-C lands mid-upload.
describe('copy: Ctrl-C during an upload resumed from the journal', () => {
  let source: Distribution
  let destination: Distribution
  let dst: FaultProxy
  let dir: string
  const from = () => `${source.host}/big/app:1.0`

  beforeAll(async () => {
    ;[source, destination] = await Promise.all([startDistribution(), startDistribution()])
    dst = await startFaultProxy(destination.url)
    dir = await mkdtemp(join(tmpdir(), 'ferry-cancel-resumed-'))
    const client = new RegistryClient()
    await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'big/app' }),
      { seed: 'cancel-resumed', layers: 1, layerSize: 40 * MiB },
      '1.0',
    )
    await client.close()
  }, 60_000)
  afterAll(async () => {
    await dst?.stop()
    await Promise.all([source?.stop(), destination?.stop()])
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('stops at the first SIGINT within a second and exits 130', async () => {
    const env = { XDG_STATE_HOME: join(dir, 'state') }
    const to = `${dst.host}/cut/app:1.0`
    const patches = /^\/v2\/cut\/app\/blobs\/uploads\//
    // First run: the first chunk lands, every later PATCH is reset; the session stays in the journal.
    let seen = 0
    dst.setRule((req) =>
      req.method === 'PATCH' && patches.test(req.path) && ++seen > 1 ? { kind: 'reset' } : undefined,
    )
    const first = await ferry(['copy', from(), to], { env, killAfterMs: 60_000 })
    expect(first.code, first.stderr).not.toBe(0)

    // Second run: the resumed PATCH (from byte CHUNK) is held, as a slow link would; Ctrl-C then.
    const child = spawn(process.execPath, [BIN, 'copy', from(), to, '--debug'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      child.once('exit', (code) => resolve({ code, at: Date.now() })),
    )
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
    let interruptedAt = 0
    const resumedPatch = new Promise<void>((reached) => {
      dst.setRule((req) => {
        if (req.method !== 'PATCH' || !patches.test(req.path)) return undefined
        if (!interruptedAt) {
          expect(req.headers['content-range']).toBe(`${CHUNK}-${2 * CHUNK - 1}`)
          reached()
        }
        return { kind: 'hold', ms: 8_000 }
      })
    })
    await Promise.race([resumedPatch, exited])
    interruptedAt = Date.now()
    child.kill('SIGINT')
    const { code, at } = await exited
    clearTimeout(guard)
    dst.setRule(undefined)
    expect(stderr).toContain('resuming')
    expect(code, stderr).toBe(130)
    expect(at - interruptedAt).toBeLessThan(1_000)
    // The session stays in the journal for the next run.
    const journal = JSON.parse(await readFile(join(env.XDG_STATE_HOME, 'ferry', 'uploads.json'), 'utf8'))
    expect(Object.values(journal.uploads)).toMatchObject([{ offset: CHUNK }])
  }, 120_000)
})
