import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

const PASSWORD = 's3cret-Pa55word!'

// Each step starts a node process; on a busy machine that is seconds, so these tests get more time.
describe('ferry CLI', { timeout: 120_000 }, () => {
  let dir: string
  let layout: string
  let index: Manifest
  let open: Distribution
  let locked: Distribution
  let env: Record<string, string>

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-cli-'))
    layout = join(dir, 'layout')
    const target = await openLayoutTarget(layout, { create: true })
    index = await pushSyntheticIndex(
      target,
      {
        seed: 'cli',
        layers: 1,
        layerSize: 10_000,
        labels: { 'org.opencontainers.image.revision': 'abc123' },
      },
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      '1.0',
    )
    await target.close()
    ;[open, locked] = await Promise.all([
      startDistribution(),
      startDistribution({ htpasswd: `ci:${bcrypt.hashSync(PASSWORD, 4)}\n` }),
    ])
    env = { DOCKER_CONFIG: join(dir, 'docker') }
  })
  afterAll(async () => {
    await Promise.all([open?.stop(), locked?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  it('lists its commands and shows examples in --help', async () => {
    const top = await ferry(['--help'])
    expect(top.code).toBe(0)
    for (const c of ['copy', 'inspect', 'digest', 'tags', 'catalog', 'login', 'logout', 'sync']) {
      expect(top.stdout).toMatch(new RegExp(`\\n\\s+${c}\\s`))
    }
    const copy = await ferry(['copy', '--help'])
    expect(copy.stdout).toContain('EXAMPLES')
    expect(copy.stdout).toContain('--referrers')
  })

  it('inspects a layout, as text and as JSON', async () => {
    const text = await ferry(['inspect', `oci:${layout}:1.0`])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(index.digest)
    expect(text.stdout).toContain('linux/arm64')
    const json = await ferry(['inspect', `oci:${layout}:1.0`, '--platform', 'linux/arm64', '--json'])
    const parsed = JSON.parse(json.stdout)
    expect(parsed.platform).toBe('linux/arm64')
    expect(parsed.labels).toEqual({ 'org.opencontainers.image.revision': 'abc123' })
    const raw = await ferry(['digest', `oci:${layout}:1.0`])
    expect(raw.stdout.trim()).toBe(index.digest)
  })

  it('exits 3 for what is not there and 2 for a bad reference, with one-line errors', async () => {
    const missing = await ferry(['inspect', `oci:${layout}:nope`])
    expect(missing.code).toBe(3)
    expect(missing.stderr.trim().split('\n')).toHaveLength(1)
    expect(missing.stderr).toContain('nope')
    const bad = await ferry(['inspect', 'Upper/Case'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('lowercase')
    const json = await ferry(['digest', `${open.host}/none/here:1`, '--json'])
    expect(json.code).toBe(3)
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'NOT_FOUND' })
    expect(JSON.parse(json.stdout).error.message).toMatch(/none\/here.*MANIFEST_UNKNOWN|NAME_UNKNOWN/)
  })

  it('copies into a registry with a JSON summary and no progress bars when piped', async () => {
    const r = await ferry(['copy', `oci:${layout}:1.0`, `${open.host}/cli/app`, '--json'])
    expect(r.code).toBe(0)
    const summary = JSON.parse(r.stdout)
    expect(summary.destination).toMatchObject({ digest: index.digest, tag: '1.0' })
    expect(summary.blobs.copied).toBe(4)
    expect(r.stderr).not.toContain('\u001b[')
    const tags = await ferry(['tags', `${open.host}/cli/app`, '--json'])
    expect(JSON.parse(tags.stdout).tags).toEqual(['1.0'])
    const catalog = await ferry(['catalog', open.host])
    expect(catalog.stdout.split('\n')).toContain('cli/app')
  })

  it('login without a terminal or --password-stdin says so in words, nothing redacted', async () => {
    // The helper's stdin is a pipe, as with `</dev/null`: not a terminal.
    const r = await ferry(['login', locked.host, '-u', 'ci'], { env })
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      `ferry: login to ${locked.host}: no terminal to type the password at; pipe it in with --password-stdin\n`,
    )
  })

  it('logs in with --password-stdin, uses the credentials, logs out; secrets never printed', async () => {
    const denied = await ferry(['tags', `${locked.host}/x`], { env })
    expect(denied.code).toBe(4)
    const wrong = await ferry(['login', locked.host, '-u', 'ci', '--password-stdin', '--debug'], {
      env,
      input: 'wrong-password\n',
    })
    expect(wrong.code).toBe(4)
    expect(wrong.stdout + wrong.stderr).not.toContain('wrong-password')
    const ok = await ferry(['login', locked.host, '-u', 'ci', '--password-stdin'], {
      env,
      input: `${PASSWORD}\n`,
    })
    expect(ok.code).toBe(0)
    const config = JSON.parse(await readFile(join(dir, 'docker', 'config.json'), 'utf8'))
    expect(Object.keys(config.auths)).toContain(locked.host)
    const copy = await ferry(['copy', `oci:${layout}:1.0`, `${locked.host}/private/app:1.0`, '--debug'], {
      env,
    })
    expect(copy.code).toBe(0)
    const everything = copy.stdout + copy.stderr
    expect(everything).toContain('debug:')
    expect(everything).not.toContain(PASSWORD)
    expect(everything).not.toContain(Buffer.from(`ci:${PASSWORD}`).toString('base64'))
    const out = await ferry(['logout', locked.host], { env })
    expect(out.code).toBe(0)
    expect((await ferry(['tags', `${locked.host}/private/app`], { env })).code).toBe(4)
  })
})
