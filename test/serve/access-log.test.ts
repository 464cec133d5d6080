import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry, startFerryServe } from '../helpers/cli.js'

const USER = 'ci'
const PASSWORD = 'pa55-w0rd-never-logged'
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64')
const STATE = 'UPLOAD-STATE-TOKEN-never-logged'

/**
 * The access log of a real `ferry serve` behind --htpasswd, after a push and a pull with ferry itself:
 * one line per request in either format, naming the user and the digest, and no credential, token or
 * upload state anywhere in it.
 */
describe('serve access log', { timeout: 120_000 }, () => {
  let dir: string
  let htpasswd: string
  let digest: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-access-'))
    htpasswd = join(dir, 'htpasswd')
    await writeFile(htpasswd, `${USER}:${bcrypt.hashSync(PASSWORD, 4)}\n`)
    const src = await openLayoutTarget(join(dir, 'src'), { create: true })
    digest = (await pushSyntheticImage(src, { seed: 'access', layers: 1, layerSize: 300 }, 'v1')).digest
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function session(format: 'common' | 'json'): Promise<string[]> {
    const log = join(dir, `access.${format}.log`)
    const served = await startFerryServe([
      '--root',
      join(dir, `root-${format}`),
      '--htpasswd',
      htpasswd,
      '--access-log',
      log,
      '--access-log-format',
      format,
    ])
    try {
      const ref = `${served.host}/team/app:v1`
      const pushed = await ferry([
        'copy',
        `oci:${join(dir, 'src')}:v1`,
        ref,
        '--dest-creds',
        `${USER}:${PASSWORD}`,
      ])
      expect(pushed.code, pushed.stderr).toBe(0)
      const pulled = await ferry([
        'copy',
        ref,
        `oci:${join(dir, `pulled-${format}`)}:v1`,
        '--src-creds',
        `${USER}:${PASSWORD}`,
      ])
      expect(pulled.code, pulled.stderr).toBe(0)
      // An upload whose query carries a state token (as distribution's `_state`), and a wrong password.
      const upload = await fetch(`http://${served.host}/v2/team/app/blobs/uploads/?_state=${STATE}&n=1`, {
        method: 'POST',
        headers: { Authorization: `Basic ${BASIC}` },
      })
      expect(upload.status).toBe(202)
      const wrong = Buffer.from(`${USER}:wrong-${PASSWORD}`).toString('base64')
      const refused = await fetch(`http://${served.host}/v2/_catalog`, {
        headers: { Authorization: `Basic ${wrong}` },
      })
      expect(refused.status).toBe(401)
    } finally {
      await served.stop()
    }
    const text = await readFile(log, 'utf8')
    for (const secret of [PASSWORD, BASIC, STATE, 'Basic ', 'Authorization'])
      expect(text).not.toContain(secret)
    return text.trim().split('\n')
  }

  it('common: NCSA lines for the push and the pull, with the user and the digest, and no secret', async () => {
    const lines = await session('common')
    const put = lines.find((l) => l.includes('"PUT /v2/team/app/manifests/v1 HTTP/1.1" 201'))
    expect(put).toMatch(
      new RegExp(
        `^127\\.0\\.0\\.1 - ci \\[\\d\\d/\\w{3}/\\d{4}:\\d\\d:\\d\\d:\\d\\d \\+0000\\] "PUT [^"]+" 201 \\d+ "-" "[^"]*" [\\d.]+ms ${digest}$`,
      ),
    )
    const get = lines.find((l) => /"GET \/v2\/team\/app\/manifests\/v1 HTTP\/1\.1" 200/.test(l))
    expect(get).toMatch(new RegExp(` - ci \\[.* ${digest}$`))
    expect(
      lines.some((l) => /"(?:POST|PUT) \/v2\/team\/app\/blobs\/uploads\/\S* HTTP\/1\.1" 20[12]/.test(l)),
    ).toBe(true)
    // The state token is dropped from the query; the page size stays.
    expect(lines.some((l) => l.includes('"POST /v2/team/app/blobs/uploads/?n=1 HTTP/1.1" 202'))).toBe(true)
    // The refused login is logged without a user: the name it tried is not vouched for.
    expect(lines.some((l) => / - - \[.*"GET \/v2\/_catalog HTTP\/1\.1" 401 /.test(l))).toBe(true)
  })

  it('json: one object per request, for the push and the pull, and no secret', async () => {
    const records = (await session('json')).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records.find((r) => r.method === 'PUT' && r.path === '/v2/team/app/manifests/v1')).toMatchObject({
      remote: '127.0.0.1',
      user: 'ci',
      status: 201,
      digest,
    })
    // Clients ask without credentials first (401), then with them.
    const get = records.find(
      (r) => r.method === 'GET' && r.path === '/v2/team/app/manifests/v1' && r.status === 200,
    )
    expect(get).toMatchObject({ user: 'ci', status: 200, digest })
    expect(get!.bytes).toBeGreaterThan(0)
    expect(typeof get!.durationMs).toBe('number')
    expect(Date.parse(String(get!.time))).toBeGreaterThan(0)
    expect(records.find((r) => r.status === 401 && r.path === '/v2/_catalog')).toMatchObject({ user: null })
  })

  it('puts the UI and /metrics behind --htpasswd (--metrics-public opens /metrics); --no-ui turns the UI off', async () => {
    const locked = await startFerryServe(['--root', join(dir, 'root-locked'), '--htpasswd', htpasswd])
    const open = await startFerryServe([
      '--root',
      join(dir, 'root-open'),
      '--htpasswd',
      htpasswd,
      '--metrics-public',
      '--no-ui',
    ])
    const auth = { headers: { Authorization: `Basic ${BASIC}` } }
    try {
      for (const path of ['/ui/', '/ui/repo/team/app', '/metrics']) {
        const res = await fetch(`http://${locked.host}${path}`)
        expect(res.status, path).toBe(401)
        expect(res.headers.get('www-authenticate')).toBe('Basic realm="ferry"')
      }
      expect((await fetch(`http://${locked.host}/ui/`, auth)).status).toBe(200)
      const scraped = await fetch(`http://${locked.host}/metrics`, auth)
      expect(scraped.status).toBe(200)
      const text = await scraped.text()
      expect(text).toContain('ferry_http_requests_total{method="GET",route="/ui/",status="401"} 1\n')
      expect(text).toContain('ferry_http_requests_total{method="GET",route="/ui/",status="200"} 1\n')
      const metrics = await fetch(`http://${open.host}/metrics`)
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toContain('# TYPE ferry_http_requests_total counter')
      expect((await fetch(`http://${open.host}/v2/`)).status).toBe(401)
      // With --no-ui, /ui/ is a path like any other outside the API: 404 once the client is let in.
      expect((await fetch(`http://${open.host}/ui/`, auth)).status).toBe(404)
    } finally {
      await locked.stop()
      await open.stop()
    }
  })

  it('--help documents the UI, /metrics and the access log flags', async () => {
    const help = await ferry(['serve', '--help'])
    expect(help.code).toBe(0)
    const text = help.stdout.replace(/\s+/g, ' ')
    expect(text).toContain('--[no-]ui Serve the read-only web UI at /ui/')
    expect(text).toContain('--access-log=<value> Append the access log to this file instead of stderr')
    expect(text).toContain('--access-log-format=<option> [default: common] Access log lines: common')
    expect(text).toContain('--no-access-log Write no access log')
    expect(text).toContain('--metrics-public Answer /metrics without credentials')
    expect(text).toMatch(/EXAMPLES .*--access-log-format json/)
  })

  it('goes to stderr by default; --no-access-log turns it off', async () => {
    const on = await startFerryServe(['--root', join(dir, 'root-stderr')])
    const off = await startFerryServe(['--root', join(dir, 'root-off'), '--no-access-log'])
    try {
      expect((await fetch(`http://${on.host}/v2/`)).status).toBe(200)
      expect((await fetch(`http://${off.host}/v2/`)).status).toBe(200)
      for (let i = 0; i < 50 && !on.output().includes('"GET /v2/ HTTP/1.1" 200'); i++) {
        await new Promise((r) => setTimeout(r, 20))
      }
      expect(on.output()).toMatch(/^127\.0\.0\.1 - - \[.*\] "GET \/v2\/ HTTP\/1\.1" 200 /m)
      expect(off.output()).not.toContain('GET /v2/')
    } finally {
      await on.stop()
      await off.stop()
    }
  })
})
