import { execFile } from 'node:child_process'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Logger } from '../../src/log.js'
import { startServer, UPLOADS_DIR } from '../../src/serve/index.js'
import { selfSignedCert } from '../helpers/self-signed.js'
import { imageManifest, putManifest, raw, type Served, serveTemp, sha256 } from './helpers.js'

const run = promisify(execFile)

function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  return { lines, debug: (m) => lines.push(`debug ${m}`), warn: (m) => lines.push(`warn ${m}`) }
}

describe('path traversal', () => {
  let served: Served
  const sentinel = 'do not touch\n'

  beforeAll(async () => {
    served = await serveTemp()
    await writeFile(join(served.dir, 'sentinel'), sentinel)
    await putManifest(served.server, 'a/b', 'v1', await imageManifest(served.server, 'a/b', 'x'))
  })
  afterAll(async () => {
    await served?.stop()
  })

  // Each hostile target as sent on the wire; none may touch a file outside the root.
  const attempts: [string, string][] = [
    ['GET', '/v2/../../etc/passwd/manifests/x'],
    ['GET', '/v2/../sentinel/tags/list'],
    ['GET', '/v2/a/%2e%2e/b/tags/list'],
    ['GET', '/v2/a%2f..%2f..%2fsentinel/tags/list'],
    ['GET', '/v2/%2e%2e/%2e%2e/sentinel/manifests/latest'],
    ['GET', '/v2//etc/passwd/manifests/latest'],
    ['GET', '/v2/a/b/blobs/sha256:..%2f..%2f..%2fsentinel'],
    ['GET', '/v2/a/b/blobs/..%5c..%5csentinel'],
    ['GET', '/v2/a\\..\\..\\sentinel/tags/list'],
    ['GET', '/v2/a/b/manifests/..'],
    ['GET', '/v2/a/b/referrers/../../../sentinel'],
    ['PUT', '/v2/../sentinel/manifests/latest'],
    ['PUT', '/v2/a/b/manifests/..%2f..%2f..%2fsentinel'],
    ['POST', '/v2/../../blobs/uploads/'],
    ['PATCH', '/v2/a/b/blobs/uploads/..%2f..%2f..%2fsentinel'],
    ['PUT', `/v2/a/b/blobs/uploads/../../../sentinel?digest=${sha256('x')}`],
    ['DELETE', '/v2/a/b/manifests/..%2f..%2fsentinel'],
    ['GET', `http://127.0.0.1/v2/../../sentinel/tags/list`],
    ['GET', '/v2/A/B/tags/list'],
    ['GET', `/v2/${'a'.repeat(256)}/tags/list`],
  ]

  it.each(attempts)('%s %s is refused', async (method, path) => {
    const before = await stat(join(served.dir, 'sentinel'))
    const res = await raw(served.server, method, path, { body: method === 'GET' ? undefined : 'overwritten' })
    expect([400, 404]).toContain(res.status)
    expect(res.headers['content-type']).toBe('application/json')
    const after = await stat(join(served.dir, 'sentinel'))
    expect(await readFile(join(served.dir, 'sentinel'), 'utf8')).toBe(sentinel)
    expect(after.mtimeMs).toBe(before.mtimeMs)
    expect((await readdir(served.dir)).sort()).toEqual(['root', 'sentinel'])
  })
})

describe('read-only', () => {
  let served: Served
  let digest: string

  beforeAll(async () => {
    const writable = await serveTemp()
    const bytes = await imageManifest(writable.server, 'ro/app', 'ro')
    digest = sha256(bytes)
    await putManifest(writable.server, 'ro/app', 'v1', bytes)
    await writable.server.close()
    const server = await startServer({ root: writable.root, port: 0, readOnly: true })
    served = { ...writable, server }
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('serves reads and refuses every write with 405 UNSUPPORTED', async () => {
    expect((await raw(served.server, 'GET', '/v2/ro/app/manifests/v1')).status).toBe(200)
    const writes: [string, string][] = [
      ['POST', '/v2/ro/app/blobs/uploads/'],
      ['POST', `/v2/ro/app/blobs/uploads/?digest=${sha256('x')}`],
      ['PATCH', '/v2/ro/app/blobs/uploads/00000000-0000-4000-8000-000000000000'],
      ['PUT', '/v2/ro/app/manifests/v2'],
      ['DELETE', '/v2/ro/app/manifests/v1'],
      ['DELETE', `/v2/ro/app/manifests/${digest}`],
    ]
    for (const [method, path] of writes) {
      const res = await raw(served.server, method, path, { body: 'x' })
      expect(res.status, `${method} ${path}`).toBe(405)
      expect(res.code()).toBe('UNSUPPORTED')
    }
    expect((await raw(served.server, 'GET', '/v2/ro/app/manifests/v1')).status).toBe(200)
    expect(await readdir(served.root)).not.toContain(UPLOADS_DIR)
  })
})

describe('authentication and exposure', () => {
  let served: Served
  const logger = captureLogger()
  const password = 's3cret-Pa55word'

  beforeAll(async () => {
    served = await serveTemp({ logger })
    await putManifest(served.server, 'team/app', 'v1', await imageManifest(served.server, 'team/app', 'auth'))
    await served.server.close()
    // htpasswd -B writes $2y$; bcryptjs writes $2b$ for the same hash.
    const hash = bcrypt.hashSync(password, 4).replace(/^\$2b\$/, '$2y$')
    const htpasswd = join(served.dir, 'htpasswd')
    await writeFile(htpasswd, `# users\nalice:${hash}\n`)
    selfSignedCert(served.dir, { cn: '127.0.0.1', ip: '127.0.0.1' })
    const server = await startServer({
      root: served.root,
      port: 0,
      htpasswd,
      logger,
      tls: { cert: join(served.dir, 'cert.pem'), key: join(served.dir, 'key.pem') },
    })
    served = { ...served, server }
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('asks for Basic credentials and takes only the right ones, over TLS', async () => {
    expect(served.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const ca = await readFile(join(served.dir, 'cert.pem'))
    const { Agent, fetch } = await import('undici')
    const dispatcher = new Agent({ connect: { ca } })
    const get = (auth?: string) =>
      fetch(`${served.server.url}/v2/`, { dispatcher, headers: auth ? { Authorization: auth } : {} })
    const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`
    try {
      const none = await get()
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe('Basic realm="ferry"')
      expect(((await none.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('UNAUTHORIZED')
      expect((await get(basic('alice', 'wrong'))).status).toBe(401)
      expect((await get(basic('mallory', password))).status).toBe(401)
      expect((await get('Bearer abc.def.ghi')).status).toBe(401)
      const ok = await get(basic('alice', password))
      expect(ok.status).toBe(200)
      // Remembered credentials: the second request skips bcrypt but still checks.
      expect((await get(basic('alice', password))).status).toBe(200)
    } finally {
      await dispatcher.close()
    }
    const joined = logger.lines.join('\n')
    expect(joined).toMatch(/GET \/v2\/ 401/)
    expect(joined).toMatch(/GET \/v2\/ 200/)
    expect(joined).not.toContain(password)
    expect(joined).not.toContain(Buffer.from(`alice:${password}`).toString('base64'))
  })

  it('works for skopeo with credentials', async () => {
    const { stdout } = await run('skopeo', [
      'list-tags',
      '--tls-verify=false',
      '--creds',
      `alice:${password}`,
      `docker://${served.server.host}/team/app`,
    ])
    expect(JSON.parse(stdout).Tags).toEqual(['v1'])
    const denied = await run('skopeo', [
      'list-tags',
      '--tls-verify=false',
      '--creds',
      'alice:nope',
      `docker://${served.server.host}/team/app`,
    ]).catch((err: { stderr: string }) => err)
    expect(JSON.stringify(denied)).toMatch(/unauthorized|authentication required/i)
  })

  it('warns when listening beyond loopback without TLS and htpasswd', async () => {
    const warnings = captureLogger()
    const open = await startServer({ root: served.root, address: '0.0.0.0', port: 0, logger: warnings })
    await open.close()
    expect(warnings.lines.filter((l) => l.startsWith('warn'))).toEqual([
      expect.stringMatching(/0\.0\.0\.0.*without TLS or authentication/),
    ])
    expect(open.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)

    const quiet = captureLogger()
    const guarded = await startServer({
      root: served.root,
      address: '0.0.0.0',
      port: 0,
      logger: quiet,
      htpasswd: join(served.dir, 'htpasswd'),
      tls: { cert: join(served.dir, 'cert.pem'), key: join(served.dir, 'key.pem') },
    })
    await guarded.close()
    expect(quiet.lines.filter((l) => l.startsWith('warn'))).toEqual([])
  })

  it('refuses htpasswd files that are not bcrypt', async () => {
    const bad = join(served.dir, 'htpasswd-md5')
    await writeFile(bad, 'bob:$apr1$abcdefgh$0123456789abcdefghijkl\n')
    await expect(startServer({ root: served.root, port: 0, htpasswd: bad })).rejects.toThrow(/line 1.*bcrypt/)
  })
})
