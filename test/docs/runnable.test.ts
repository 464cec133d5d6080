import { spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { freePort, startDistribution } from '../helpers/distribution.js'

/**
 * The guides in docs/ cannot rot: every fenced block whose info string is `sh runnable` is run, in the
 * guide's order, by one bash (`set -euo pipefail`) in an empty directory, with `ferry` (the built
 * bin/run.js) on PATH, `$REGISTRY` a CNCF registry on loopback holding the seed's world (README
 * "Guides") and `$PORT` a free port for `ferry serve`. Each guide gets a registry of its own, so no
 * guide depends on what another did.
 */
const ROOT = join(import.meta.dirname, '..', '..')
const DOCS = join(ROOT, 'docs')
const BIN = join(ROOT, 'bin', 'run.js')

/** The guides README "Guides" promises a worked example in; the reference pages need none. */
const GUIDES = ['mirroring', 'serving', 'signing', 'governance', 'retention', 'bundles', 'pinning']

function runnableBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh runnable\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '')
}

const LABELS = {
  'org.opencontainers.image.source': 'https://example.com/acme/mini-api',
  'org.opencontainers.image.revision': '4f2c1a9',
}
const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
]

/** postgres:16, python:3.12-slim and mini-api:1.0 (two platforms each), and three mini-api release candidates. */
async function seed(registry: string): Promise<void> {
  const client = new RegistryClient()
  const repo = (repository: string) => client.repository({ registry, repository })
  const small = { layers: 2, layerSize: 32 * 1024 }
  await pushSyntheticIndex(repo('library/postgres'), { seed: 'postgres-16', ...small }, PLATFORMS, '16')
  await pushSyntheticIndex(
    repo('library/python'),
    { seed: 'python-3.12-slim', ...small },
    PLATFORMS,
    '3.12-slim',
  )
  const created = '2024-01-01T00:00:00Z'
  const labels = { ...LABELS, 'org.opencontainers.image.created': created }
  await pushSyntheticIndex(
    repo('example/mini-api'),
    { seed: 'mini-api-1.0', ...small, labels, created },
    PLATFORMS,
    '1.0',
  )
  for (const n of [1, 2, 3]) {
    const created = `2024-02-0${n}T00:00:00Z`
    const labels = { ...LABELS, 'org.opencontainers.image.created': created }
    await pushSyntheticImage(
      repo('example/mini-api'),
      { seed: `mini-api-rc${n}`, ...small, labels, created },
      `1.1.0-rc.${n}`,
    )
  }
}

interface Run {
  code: number | null
  output: string
}

/** The script under bash in its own process group, which is killed when bash ends (a `ferry serve &` left behind). */
function runScript(script: string, cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`], {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (d) => {
      output += d
    })
    child.stderr.on('data', (d) => {
      output += d
    })
    const stopGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        // the group is gone already
      }
    }
    const guard = setTimeout(stopGroup, 150_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(guard)
      stopGroup()
      resolve({ code, output })
    })
  })
}

describe('docs/: the runnable examples', () => {
  let dir: string
  let pathDir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-docs-'))
    pathDir = join(dir, 'bin')
    await mkdir(pathDir)
    await writeFile(join(pathDir, 'ferry'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`)
    await chmod(join(pathDir, 'ferry'), 0o755)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** A fresh registry with the seed's images, a fresh home and an empty working directory. */
  async function runGuide(name: string, script: string): Promise<Run> {
    const home = join(dir, name)
    const work = join(home, 'work')
    await mkdir(work, { recursive: true })
    const registry = await startDistribution()
    try {
      await seed(registry.host)
      const env: Record<string, string> = {
        PATH: `${pathDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: home,
        XDG_STATE_HOME: join(home, 'state'),
        XDG_CONFIG_HOME: join(home, 'config'),
        XDG_CACHE_HOME: join(home, 'cache'),
        XDG_RUNTIME_DIR: join(home, 'run'),
        DOCKER_CONFIG: join(home, 'docker'),
        FORCE_COLOR: '0',
        REGISTRY: registry.host,
        PORT: String(await freePort()),
      }
      return await runScript(script, work, env)
    } finally {
      await registry.stop()
    }
  }

  it('every guide has at least one runnable example', async () => {
    const files = (await readdir(DOCS)).filter((f) => f.endsWith('.md'))
    for (const guide of GUIDES) {
      expect(files).toContain(`${guide}.md`)
      const blocks = runnableBlocks(await readFile(join(DOCS, `${guide}.md`), 'utf8'))
      expect(blocks.length, `docs/${guide}.md has no "sh runnable" block`).toBeGreaterThan(0)
    }
  })

  it('a failing example fails the guide (the harness can fail)', { timeout: 60_000 }, async () => {
    const run = await runGuide(
      'harness',
      'ferry digest "$REGISTRY/library/postgres:16"\nferry digest "$REGISTRY/library/postgres:17"\n',
    )
    expect(run.output).toMatch(/sha256:[0-9a-f]{64}/)
    expect(run.code).toBe(3)
  })

  it.each(GUIDES)('docs/%s.md: its runnable examples run', { timeout: 180_000 }, async (guide) => {
    const blocks = runnableBlocks(await readFile(join(DOCS, `${guide}.md`), 'utf8'))
    const run = await runGuide(guide, blocks.join('\n'))
    expect(run.code, run.output).toBe(0)
  })
})
