import { execFileSync } from 'node:child_process'
import { cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry } from '../helpers/cli.js'
import { expandGolden, FIXTURES, type SignedRegistry, startSignedRegistry } from './helpers.js'

/** The internal registry's images, where `--registry HOST/cache` places what the fixtures name. */
const IMAGES = [
  ['cache/docker/dockerfile', '1'],
  ['cache/library/golang', '1.22'],
  ['cache/library/python', '3.12-slim'],
  ['cache/library/postgres', '16'],
  ['cache/acme/mini-api', '1.0'],
] as const

/** Every file below `dir`, relative, sorted. */
async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort()
}

const helmInstalled = (() => {
  try {
    execFileSync('helm', ['version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

interface JsonImage {
  at: string
  line: number
  before: string
  after?: string
  verdict: string
  messages: string[]
  warnings?: string[]
}

/**
 * `ferry pin` over a repository as teams keep one: Dockerfiles beside the deployment files, Compose
 * services built from them, a Helm chart written whole with --out. The images are on a real distribution
 * registry, signed; the CLI runs as a user types it, and the outputs are compared with golden files byte
 * for byte (`test/pin/fixtures/NAME/{input,expected}`).
 */
describe('ferry pin on a repository', () => {
  let reg: SignedRegistry
  const pin = (args: string[]) => ferry(['pin', ...args, '--registry', `${reg.host}/cache`])
  const signed = (args: string[]) => pin([...args, '--key', reg.pub])

  beforeAll(async () => {
    reg = await startSignedRegistry(IMAGES)
  }, 60_000)
  afterAll(() => reg?.stop())

  /** A fresh copy of a fixture's input tree (under the name `as`), and where its output goes. */
  async function fixture(name: string, as = name): Promise<{ dir: string; out: string }> {
    const dir = join(reg.dir, as, 'in')
    await cp(join(FIXTURES, name, 'input'), dir, { recursive: true })
    return { dir, out: join(reg.dir, as, 'out') }
  }
  /** The table's rows, cells split where the columns are (two spaces or more). */
  const cells = (stdout: string) =>
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/ {2,}/))
  const golden = async (name: string, file: string) =>
    expandGolden(await readFile(join(FIXTURES, name, 'expected', file), 'utf8'), reg.host, reg.digests)
  const rows = (report: { files: { file: string; images: JsonImage[] }[] }, file: string) =>
    report.files
      .find((f) => f.file === file)!
      .images.map((i) => [i.line, i.at, i.before, i.verdict, i.messages.at(-1) ?? ''])

  describe('Dockerfiles', () => {
    it('pins FROM (--platform, stages, ARG default), COPY --from and RUN --mount images and # syntax, byte for byte', async () => {
      const { dir, out } = await fixture('dockerfile')
      const run = await signed([dir, '--out', out, '--json'])
      expect(run.code, run.stderr).toBe(0)
      for (const file of ['Dockerfile', 'ci/Containerfile'])
        expect(await readFile(join(out, file), 'utf8')).toBe(await golden('dockerfile', file))
      const report = JSON.parse(run.stdout)
      expect(report.files.map((f: { file: string; format: string }) => [f.file, f.format])).toEqual([
        [join(dir, 'Dockerfile'), 'dockerfile'],
        [join(dir, 'ci', 'Containerfile'), 'dockerfile'],
      ])
      // Stage names (`build`, `Base` as Docker matches them, without case), `scratch`, a stage index and
      // heredoc bodies (`FROM alpine:3.19`, `FROM nginx:1.27`) are not images: they are not listed at all.
      expect(rows(report, join(dir, 'Dockerfile'))).toEqual([
        [1, '# syntax', 'docker/dockerfile:1', 'pinned', expect.any(String)],
        [5, 'ARG BASE, FROM of stage 1 (base)', 'python:3.12-slim', 'pinned', expect.any(String)],
        [8, 'FROM of stage 0 (build)', 'golang:1.22', 'pinned', expect.any(String)],
        [22, 'COPY --from in stage 1 (base)', 'ghcr.io/acme/mini-api:1.0', 'pinned', expect.any(String)],
        [23, 'RUN --mount from= in stage 1 (base)', 'postgres:16', 'pinned', expect.any(String)],
        [
          34,
          'FROM of stage 3 (custom)',
          '$RUNTIME',
          'skipped',
          'ARG RUNTIME has no default: the image is chosen at build time (--build-arg RUNTIME=…), not pinned',
        ],
        [40, 'FROM of stage 5 (final)', 'python:3.12-slim', 'pinned', expect.any(String)],
      ])
      expect(rows(report, join(dir, 'ci', 'Containerfile'))).toEqual([
        [5, 'FROM of stage 0 (test)', 'python:3.12-slim', 'pinned', expect.any(String)],
      ])
      const lock = JSON.parse(await readFile(join(out, 'ferry.lock.json'), 'utf8'))
      const python = lock.images.find((i: { original: string }) => i.original === 'python:3.12-slim')
      expect(python.sites).toEqual([
        'Dockerfile: ARG BASE, FROM of stage 1 (base)',
        'Dockerfile: FROM of stage 5 (final)',
        'ci/Containerfile: FROM of stage 0 (test)',
      ])
      expect(python.verified).toBe(true)
    })

    it('--check fails on an unpinned FROM, naming it, and passes on the pinned output', async () => {
      const { dir, out } = await fixture('dockerfile', 'dockerfile-check')
      const file = join(dir, 'ci', 'Containerfile')
      const before = await pin([file, '--check'])
      expect(before.code).toBe(1)
      expect(cells(before.stdout)).toEqual([
        ['unpinned', `${file}:5`, 'python:3.12-slim', `not under ${reg.host}/cache`],
      ])
      expect((await signed([dir, '--out', out])).code).toBe(0)
      const after = await pin([out, '--check'])
      expect(after.code, after.stdout).toBe(0)
      // The one FROM chosen at build time is listed, and does not fail the check.
      expect(cells(after.stdout)).toEqual([
        [
          'skipped',
          `${join(out, 'Dockerfile')}:34`,
          '$RUNTIME',
          'ARG RUNTIME has no default: the image is chosen at build time (--build-arg RUNTIME=…), not pinned',
        ],
      ])
      expect(after.stderr).toContain('7 images pinned')
    })
  })

  describe('Compose services built from a Dockerfile', () => {
    it('reports each built service in one line and pins its Dockerfile once, followed from build:', async () => {
      const { dir, out } = await fixture('compose-build')
      const run = await signed([dir, '--out', out])
      expect(run.code, run.stderr).toBe(0)
      for (const file of ['compose.yaml', 'api/Dockerfile', 'docker/worker.df'])
        expect(await readFile(join(out, file), 'utf8')).toBe(await golden('compose-build', file))
      const compose = join(dir, 'compose.yaml')
      const api = join(dir, 'api', 'Dockerfile')
      expect(cells(run.stdout).filter((row) => row[1]!.startsWith(`${compose}:`))).toEqual([
        ['skipped', `${compose}:4`, 'build: ./api', `service api is built from ${api}, not pulled`],
        ['skipped', `${compose}:7`, 'build: ./api', `service migrate is built from ${api}, not pulled`],
        [
          'skipped',
          `${compose}:10`,
          'build: .',
          `service worker is built from ${join(dir, 'docker', 'worker.df')}, not pulled`,
        ],
        [
          'pinned',
          `${compose}:14`,
          'postgres:16',
          expect.stringMatching(`^→ ${reg.host}/cache/library/postgres:16@`),
        ],
        [
          'skipped',
          `${compose}:16`,
          'build: https://github.com/acme/docs.git#main',
          'service docs is built from a remote context, not pulled: its Dockerfile is not pinned',
        ],
      ])
      const json = JSON.parse(
        (await signed([dir, '--out', join(reg.dir, 'compose-build', 'out2'), '--json'])).stdout,
      )
      const files = json.files.map((f: { file: string }) => relative(dir, f.file))
      expect(files).toEqual(['api/Dockerfile', 'compose.yaml', 'docker/worker.df'])
      expect(json.counts).toEqual({ pinned: 4, kept: 0, unverified: 0, failed: 0, skipped: 4, unpinned: 0 })
    })

    it('follows build: from a compose file named on the command line: --check lists its Dockerfile’s FROMs', async () => {
      const { dir } = await fixture('compose-build', 'compose-build-check')
      const run = await pin([join(dir, 'compose.yaml'), '--check'])
      expect(run.code).toBe(1)
      const unpinned = run.stdout
        .split('\n')
        .filter((l) => l.startsWith('unpinned'))
        .map((l) => l.split(/\s+/).slice(1, 3).join(' '))
      expect(unpinned).toEqual([
        `${join(dir, 'compose.yaml')}:14 postgres:16`,
        `${join(dir, 'api', 'Dockerfile')}:1 python:3.12-slim`,
        `${join(dir, 'docker', 'worker.df')}:2 golang:1.22`,
        `${join(dir, 'docker', 'worker.df')}:5 python:3.12-slim`,
      ])
    })
  })

  describe('--out writes a chart whole', () => {
    it('every file present and identical but for the image lines of values.yaml and the Dockerfile', async () => {
      const { dir, out } = await fixture('chart')
      const run = await signed([dir, '--out', out])
      expect(run.code, run.stderr).toBe(0)
      const inputs = await listTree(dir)
      expect(await listTree(out)).toEqual([...inputs, 'ferry.lock.json'].sort())
      const pinned = ['Dockerfile', 'chart/values.yaml']
      for (const file of inputs) {
        const written = await readFile(join(out, file), 'utf8')
        if (pinned.includes(file)) expect(written, file).toBe(await golden('chart', file))
        else expect(written, file).toBe(await readFile(join(dir, file), 'utf8'))
        expect((await stat(join(out, file))).mode, file).toBe((await stat(join(dir, file))).mode)
      }
      // helm is not installed where these tests run, so the comparison above (file by file) is what
      // says the chart installs as written; where it is, the rendered chart must name only pinned images.
      if (helmInstalled) {
        const rendered = execFileSync('helm', ['template', 'x', join(out, 'chart')], { encoding: 'utf8' })
        const images = [...rendered.matchAll(/image: "?([^"\s]+)/g)].map((m) => m[1])
        expect(images.every((i) => i?.startsWith(`${reg.host}/cache/`) && i.includes('@sha256:'))).toBe(true)
      }
    })
  })

  describe('names and digests', () => {
    it('a short name the mapping file does not list fails with the one-line hint: the JSON key, or --registry', async () => {
      const dir = join(reg.dir, 'hint')
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'compose.yaml'), 'services:\n  db:\n    image: postgres:16\n')
      const mapping = join(reg.dir, 'images.json')
      const digest = reg.digests['cache/acme/mini-api']!
      const destination = `${reg.host}/cache/acme/mini-api:1.0`
      await writeFile(
        mapping,
        JSON.stringify({
          formatVersion: 1,
          bundle: { name: 'mini-api', version: '1.0' },
          images: [
            {
              source: 'ghcr.io/acme/mini-api:1.0',
              destination,
              digest,
              pinned: `${reg.host}/cache/acme/mini-api@${digest}`,
            },
          ],
        }),
      )
      const run = await ferry(['pin', dir, '--mapping', mapping, '--key', reg.pub, '--out', join(dir, 'out')])
      expect(run.code).toBe(5)
      expect(cells(run.stdout)).toEqual([
        [
          'failed',
          `${join(dir, 'compose.yaml')}:3`,
          'postgres:16',
          `docker.io/library/postgres:16 is not in ${mapping}: add an "images" entry with ` +
            `"source": "docker.io/library/postgres:16" (bundle import --mapping-out writes them), or give ` +
            `--registry HOST/PREFIX instead (a --mapping YAML line "docker.io/library/postgres: PATH" picks its path)`,
        ],
      ])
    })

    it('TAG@DIGEST whose tag names another digest now: the digest is kept, with a warning naming both', async () => {
      const old = await reg.push('cache/library/redis', '7', 'redis 7.2.4')
      const now = await reg.push('cache/library/redis', '7', 'redis 7.2.5')
      const dir = join(reg.dir, 'moved')
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, 'compose.yaml'), `services:\n  cache:\n    image: redis:7@${old}\n`)
      await writeFile(join(dir, 'Dockerfile'), `FROM ${reg.host}/cache/library/redis:7@${old}\n`)
      const out = join(dir, 'out')
      const run = await signed([dir, '--out', out])
      expect(run.code, run.stderr).toBe(0)
      expect(await readFile(join(out, 'compose.yaml'), 'utf8')).toBe(
        `services:\n  cache:\n    image: ${reg.host}/cache/library/redis:7@${old}\n`,
      )
      expect(await readFile(join(out, 'Dockerfile'), 'utf8')).toBe(
        `FROM ${reg.host}/cache/library/redis:7@${old}\n`,
      )
      const warning = `${reg.host}/cache/library/redis:7 names ${now} now, not ${old}: kept ${old} as written (the digest wins)`
      expect(run.stderr.split('\n').filter((l) => l.includes('warning'))).toEqual([
        `ferry: warning: ${join(dir, 'Dockerfile')}:1: ${warning}`,
        `ferry: warning: ${join(dir, 'compose.yaml')}:3: ${warning}`,
      ])
      expect(run.stdout.split('\n').map((l) => l.split(/\s+/)[0])).toEqual(['kept', 'pinned', ''])
    })
  })
})
