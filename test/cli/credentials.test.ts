import {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

const PASSWORD = 'Right-Pa55word-A'
const OTHER_PASSWORD = 'Right-Pa55word-B'
const WRONG = 'Wrong-Pa55word-Z'

/**
 * Where credentials come from, against distribution registries with htpasswd auth: --creds,
 * --creds-stdin, --authfile, $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json and the
 * docker config, in that order; the first file holding the registry wins.
 */
describe('credentials from the command line and auth files', { timeout: 180_000 }, () => {
  let dir: string
  let layout: string
  let a: Distribution
  let b: Distribution
  let files: { authfile: string; envFile: string; xdg: string; docker: string }
  /** No auth file at all unless a test writes one: the user's own are never read. */
  let env: Record<string, string>

  const auths = (entries: Record<string, string>) => ({
    auths: Object.fromEntries(
      Object.entries(entries).map(([k, pw]) => [k, { auth: Buffer.from(`ci:${pw}`).toString('base64') }]),
    ),
  })
  const write = async (file: string, entries: Record<string, string>) => {
    await mkdir(join(file, '..'), { recursive: true })
    await writeFile(file, JSON.stringify(auths(entries)))
  }
  const clear = () => Promise.all(Object.values(files).map((f) => rm(f, { force: true })))
  const tags = (
    repo: string,
    extra: string[] = [],
    more: { env?: Record<string, string>; input?: string } = {},
  ) =>
    ferry(['tags', `${a.host}/${repo}`, '--json', ...extra], {
      env: { ...env, ...more.env },
      input: more.input,
    })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-creds-'))
    layout = join(dir, 'layout')
    const target = await openLayoutTarget(layout, { create: true })
    await pushSyntheticIndex(
      target,
      { seed: 'creds', layers: 1, layerSize: 2_000 },
      [{ os: 'linux', architecture: 'amd64' }],
      '1.0',
    )
    await target.close()
    ;[a, b] = await Promise.all([
      startDistribution({ htpasswd: `ci:${bcrypt.hashSync(PASSWORD, 4)}\n` }),
      startDistribution({ htpasswd: `ci:${bcrypt.hashSync(OTHER_PASSWORD, 4)}\n` }),
    ])
    files = {
      authfile: join(dir, 'given', 'auth.json'),
      envFile: join(dir, 'env', 'auth.json'),
      xdg: join(dir, 'xdg', 'containers', 'auth.json'),
      docker: join(dir, 'docker', 'config.json'),
    }
    env = { DOCKER_CONFIG: join(dir, 'docker'), XDG_RUNTIME_DIR: join(dir, 'xdg'), REGISTRY_AUTH_FILE: '' }
    const push = await ferry(
      ['copy', `oci:${layout}:1.0`, `${a.host}/private/app:1.0`, '--creds', `ci:${PASSWORD}`],
      {
        env,
      },
    )
    expect(push.code).toBe(0)
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  it('is anonymous (exit 4) with no source at all', async () => {
    await clear()
    const r = await tags('private/app')
    expect(r.code).toBe(4)
  })

  it('takes each source alone', async () => {
    await clear()
    const ok = (r: { code: number | null; stdout: string }) => {
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout).tags).toEqual(['1.0'])
    }
    ok(await tags('private/app', ['--creds', `ci:${PASSWORD}`]))
    ok(await tags('private/app', ['--creds-stdin'], { input: `ci:${PASSWORD}\n` }))
    await write(files.authfile, { [a.host]: PASSWORD })
    ok(await tags('private/app', ['--authfile', files.authfile]))
    await clear()
    await write(files.envFile, { [a.host]: PASSWORD })
    ok(await tags('private/app', [], { env: { REGISTRY_AUTH_FILE: files.envFile } }))
    await clear()
    await write(files.xdg, { [a.host]: PASSWORD })
    ok(await tags('private/app'))
    await clear()
    await write(files.docker, { [`https://${a.host}/v1/`]: PASSWORD })
    ok(await tags('private/app'))
  })

  it('matches podman keys HOST/NAMESPACE for the repositories below them only', async () => {
    await clear()
    await write(files.xdg, { [`${a.host}/private`]: PASSWORD, [a.host]: WRONG })
    const below = await tags('private/app')
    expect(below.code).toBe(0)
    await write(files.xdg, { [`${a.host}/other`]: PASSWORD, [`${a.host}/private/app/deeper`]: PASSWORD })
    const beside = await tags('private/app')
    expect(beside.code).toBe(4)
  })

  it('uses the first source holding the registry: a wrong password lower down is never tried', async () => {
    await clear()
    await write(files.authfile, { [a.host]: PASSWORD })
    await write(files.envFile, { [a.host]: WRONG })
    await write(files.xdg, { [a.host]: WRONG })
    await write(files.docker, { [a.host]: WRONG })
    const fromFlag = await tags('private/app', ['--authfile', files.authfile], {
      env: { REGISTRY_AUTH_FILE: files.envFile },
    })
    expect(fromFlag.code).toBe(0)
    await write(files.envFile, { [a.host]: PASSWORD })
    expect((await tags('private/app', [], { env: { REGISTRY_AUTH_FILE: files.envFile } })).code).toBe(0)
    await write(files.xdg, { [a.host]: PASSWORD })
    expect((await tags('private/app')).code).toBe(0)
    // --creds before every file.
    await write(files.authfile, { [a.host]: WRONG })
    expect(
      (await tags('private/app', ['--authfile', files.authfile, '--creds', `ci:${PASSWORD}`])).code,
    ).toBe(0)
    // The first file that holds the registry wins, even when it is wrong and a later one is right.
    const wrongFirst = await tags('private/app', ['--authfile', files.authfile])
    expect(wrongFirst.code).toBe(4)
    expect(wrongFirst.stdout + wrongFirst.stderr).not.toContain(WRONG)
    // A file without the registry is passed over.
    await write(files.authfile, { [b.host]: WRONG })
    expect((await tags('private/app', ['--authfile', files.authfile])).code).toBe(0)
  })

  it('a wrong --creds exits 4 and the password appears nowhere, --debug included', async () => {
    await clear()
    for (const extra of [[], ['--debug']]) {
      const r = await tags('private/app', ['--creds', `ci:${WRONG}`, ...extra])
      expect(r.code).toBe(4)
      expect(r.stdout + r.stderr).not.toContain(WRONG)
      expect(r.stdout + r.stderr).not.toContain(Buffer.from(`ci:${WRONG}`).toString('base64'))
    }
    const piped = await tags('private/app', ['--creds-stdin', '--debug'], { input: `ci:${WRONG}\n` })
    expect(piped.code).toBe(4)
    expect(piped.stdout + piped.stderr).not.toContain(WRONG)
    const bad = await tags('private/app', ['--creds', WRONG])
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error).toEqual({
      code: 'USAGE',
      message: '--creds takes USER:PASS, both non-empty',
    })
    expect(bad.stdout + bad.stderr).not.toContain(WRONG)
  })

  it('copy between two registries: --creds is refused, --src-creds and --dest-creds go to their own', async () => {
    await clear()
    const src = `${a.host}/private/app:1.0`
    const dst = `${b.host}/copied/app:1.0`
    const one = await ferry(['copy', src, dst, '--creds', `ci:${PASSWORD}`], { env })
    expect(one.code).toBe(2)
    expect(one.stderr).toBe(
      `ferry: --creds would send one password to ${a.host} and ${b.host}: give each its own (copy: --src-creds, --dest-creds), or use --authfile\n`,
    )
    const two = await ferry(
      ['copy', src, dst, '--src-creds', `ci:${PASSWORD}`, '--dest-creds', `ci:${OTHER_PASSWORD}`, '--json'],
      { env },
    )
    expect(two.code).toBe(0)
    const crossed = await ferry(['tags', `${b.host}/copied/app`, '--json', '--creds', `ci:${PASSWORD}`], {
      env,
    })
    expect(crossed.code).toBe(4)
    const sync = await ferry(['sync', join(dir, 'none.yaml'), '--creds', `ci:${PASSWORD}`], { env })
    expect(sync.code).toBe(2)
    expect(sync.stderr).toContain('--creds applies to the registry a command names')
  })

  it('login --authfile writes that file (not the docker config) and logout --authfile removes the entry', async () => {
    await clear()
    const login = await ferry(
      ['login', a.host, '-u', 'ci', '--password-stdin', '--authfile', files.authfile],
      {
        env,
        input: `${PASSWORD}\n`,
      },
    )
    expect(login.code).toBe(0)
    const written = JSON.parse(await readFile(files.authfile, 'utf8'))
    expect(Object.keys(written.auths)).toEqual([a.host])
    await expect(readFile(files.docker, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await tags('private/app', ['--authfile', files.authfile])).code).toBe(0)
    const viaEnv = await ferry(['login', a.host, '-u', 'ci', '--password-stdin'], {
      env: { ...env, REGISTRY_AUTH_FILE: files.envFile },
      input: `${PASSWORD}\n`,
    })
    expect(viaEnv.code).toBe(0)
    expect(Object.keys(JSON.parse(await readFile(files.envFile, 'utf8')).auths)).toEqual([a.host])
    const out = await ferry(['logout', a.host, '--authfile', files.authfile], { env })
    expect(out.code).toBe(0)
    expect(JSON.parse(await readFile(files.authfile, 'utf8')).auths).toEqual({})
    expect((await tags('private/app', ['--authfile', files.authfile])).code).toBe(4)
  })

  it('login and logout --authfile LINK write through to the link’s target and keep the link', async () => {
    await clear()
    const real = join(dir, 'real')
    await mkdir(real, { recursive: true })
    await writeFile(join(real, 'auth.json'), '{"auths":{}}\n', { mode: 0o644 })
    const link = join(dir, 'linked-auth.json')
    await symlink('real/auth.json', link)
    const login = await ferry(['login', a.host, '-u', 'ci', '--password-stdin', '--authfile', link], {
      env,
      input: `${PASSWORD}\n`,
    })
    expect(login.code, login.stderr).toBe(0)
    expect((await lstat(link)).isSymbolicLink()).toBe(true)
    expect(await readlink(link)).toBe('real/auth.json')
    expect(Object.keys(JSON.parse(await readFile(join(real, 'auth.json'), 'utf8')).auths)).toEqual([a.host])
    expect((await stat(join(real, 'auth.json'))).mode & 0o777).toBe(0o600)
    expect(await readdir(real)).toEqual(['auth.json'])
    const out = await ferry(['logout', a.host, '--authfile', link], { env })
    expect(out.code).toBe(0)
    expect((await lstat(link)).isSymbolicLink()).toBe(true)
    expect(JSON.parse(await readFile(join(real, 'auth.json'), 'utf8')).auths).toEqual({})
  })
})
