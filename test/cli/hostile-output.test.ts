import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry } from '../helpers/cli.js'
import { tempDockerConfig } from '../registry/docker-config.js'

const PASSWORD = 'echoed-Pa55'
const HOSTILE_TAGS = ['v1\u001b]0;pwned\u0007', 'evil\u202egpj.exe', 'nul\u0000byte', 'fake\nferry: all good']

/**
 * A registry no real implementation is: it quotes the password it was sent in its error text (in
 * words no pattern catches) and lists tags distribution's tag grammar would never accept. Only a
 * stand-in can produce either, so this one is a plain node server.
 */
function hostileRegistry(): Promise<Server> {
  const server = createServer((req, res) => {
    const auth = req.headers.authorization
    if (!auth) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"', 'content-type': 'application/json' })
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"log in"}]}')
      return
    }
    const [user, password] = Buffer.from(auth.slice('Basic '.length), 'base64').toString().split(':')
    if (req.url?.startsWith('/v2/denied/')) {
      res.writeHead(403, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          errors: [{ code: 'DENIED', message: `user ${user} with ${password} may not read this` }],
        }),
      )
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    if (req.url === '/v2/') res.end('{}')
    else res.end(JSON.stringify({ name: 'app', tags: HOSTILE_TAGS }))
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('what ferry prints from hostile sources', { timeout: 120_000 }, () => {
  let server: Server
  let host: string
  let cfg: Awaited<ReturnType<typeof tempDockerConfig>>
  let env: Record<string, string>

  beforeAll(async () => {
    server = await hostileRegistry()
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`
    cfg = await tempDockerConfig({ [host]: { username: 'carol', password: PASSWORD } })
    env = { DOCKER_CONFIG: cfg.dir }
  })

  afterAll(async () => {
    await new Promise((r) => server.close(r))
    await cfg.remove()
  })

  it('redacts a password the registry echoes back, in the error line and in --json', async () => {
    const human = await ferry(['tags', `${host}/denied/app`], { env })
    expect(human.code).not.toBe(0)
    expect(human.stderr).toContain('may not read this')
    expect(human.stderr).toContain('user carol with [redacted] may not read this')
    expect(human.stderr).not.toContain(PASSWORD)
    const json = await ferry(['tags', `${host}/denied/app`, '--json'], { env })
    expect(JSON.parse(json.stdout).error.message).toContain('user carol with [redacted] may not read this')
    expect(json.stdout + json.stderr).not.toContain(PASSWORD)
  })

  it('escapes terminal sequences, NUL, bidi overrides and newlines in tags', async () => {
    const human = await ferry(['tags', `${host}/app`], { env })
    expect(human.code).toBe(0)
    expect(human.stdout.split('\n')).toEqual([
      'v1\\x1b]0;pwned\\x07',
      'evil\\u202egpj.exe',
      'nul\\x00byte',
      'fake\\x0aferry: all good',
      '',
    ])
    const json = await ferry(['tags', `${host}/app`, '--json'], { env })
    const raw = [...json.stdout].filter((c) => c !== '\n' && (c < ' ' || c === '\u202e'))
    expect(raw).toEqual([])
    expect(json.stdout).toContain('evil\\u202egpj.exe')
    expect(JSON.parse(json.stdout).tags).toEqual(HOSTILE_TAGS)
  })

  it('cuts a huge value a spec error echoes to a short line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-hostile-spec-'))
    try {
      const spec = join(dir, 'sync.yaml')
      const huge = `${'a'.repeat(5_000_000)}(`
      await writeFile(
        spec,
        `version: 1\ntarget: ${host}/cache\nimages:\n  - source: ${host}/app\n    tags:\n      match: "/${huge}/"\n`,
      )
      const res = await ferry(['sync', spec, '--dry-run'], { env })
      expect(res.code).toBe(2)
      const line = res.stderr.trim()
      expect(line.split('\n')).toHaveLength(1)
      expect(line.length).toBeLessThan(700)
      expect(line).toMatch(/^ferry: .*sync\.yaml:6:14: images\[0\]\.tags\.match: .*characters cut.*/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
