import { existsSync, readFileSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { HELPER_OUTPUT_MAX_BYTES, helperGet } from '../../src/registry/cred-helper.js'

// Real helper programs (shell scripts on PATH), each misbehaving the way a broken helper does.
let dir: string
const savedPath = process.env.PATH
const savedTimeout = process.env.FERRY_CREDENTIAL_HELPER_TIMEOUT

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-credhelper-'))
  process.env.PATH = `${dir}:${savedPath}`
})

afterEach(() => {
  if (savedTimeout === undefined) delete process.env.FERRY_CREDENTIAL_HELPER_TIMEOUT
  else process.env.FERRY_CREDENTIAL_HELPER_TIMEOUT = savedTimeout
})

afterAll(async () => {
  process.env.PATH = savedPath
  await rm(dir, { recursive: true, force: true })
})

async function helper(name: string, body: string): Promise<void> {
  const path = join(dir, `docker-credential-${name}`)
  await writeFile(path, `#!/bin/sh\n${body}\n`)
  await chmod(path, 0o755)
}

/** Alive and not a zombie waiting for a reaper (the container's pid 1 may never reap it). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`
  if (!existsSync(stat)) return false
  try {
    return readFileSync(stat, 'utf8').split(') ')[1]?.[0] !== 'Z'
  } catch {
    return false
  }
}

async function waitDead(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20))
  return !alive(pid)
}

describe('credential helpers that misbehave', () => {
  it('answers although a child of the helper keeps stdout open, and kills that child', async () => {
    const pidFile = join(dir, 'lingering.pid')
    await helper(
      'lingering',
      `echo '{"Username":"u","Secret":"s"}'\nsleep 300 &\necho $! > ${pidFile}\nexit 0`,
    )
    const started = Date.now()
    await expect(helperGet('lingering', 'reg.example')).resolves.toEqual({ username: 'u', password: 's' })
    expect(Date.now() - started).toBeLessThan(5000)
    const pid = Number(await readFile(pidFile, 'utf8'))
    expect(await waitDead(pid)).toBe(true)
  })

  it('times out a helper whose whole group hangs, killing the group', async () => {
    process.env.FERRY_CREDENTIAL_HELPER_TIMEOUT = '1'
    const pidFile = join(dir, 'stuck.pid')
    await helper('stuck', `sleep 300 &\necho $! > ${pidFile}\nwait`)
    const started = Date.now()
    await expect(helperGet('stuck', 'reg.example')).rejects.toMatchObject({
      code: 'CREDENTIALS',
      message: 'credential helper docker-credential-stuck get: no answer within 1 s',
    })
    expect(Date.now() - started).toBeLessThan(5000)
    expect(await waitDead(Number(await readFile(pidFile, 'utf8')))).toBe(true)
  })

  it('stops a helper that writes without end, with a CREDENTIALS error instead of a RangeError', async () => {
    await helper('chatty', 'exec yes')
    await expect(helperGet('chatty', 'reg.example')).rejects.toMatchObject({
      code: 'CREDENTIALS',
      message: `credential helper docker-credential-chatty get: output exceeds ${HELPER_OUTPUT_MAX_BYTES} bytes`,
    })
  })
})
