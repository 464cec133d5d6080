import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

const MODULE_LOG = join(import.meta.dirname, '..', 'helpers', 'module-log.mjs')

/**
 * Issue 30, goal 3: what `ferry sync` loads before it does any work is most of what a scheduled re-sync
 * costs. Modules only some runs need are imported where they are used: the copy engine at the first
 * image to copy, the policy's checks and the ledger when there is a policy or a ledger, the progress
 * bars on a terminal, and of semver only the functions tags need (oclif's own Node version check, which
 * loads all of it, is skipped by bin/run.js). A run that needs them still works (the first sync copies).
 */
describe('sync start-up: modules loaded only where used', { timeout: 120_000 }, () => {
  let source: Distribution
  let dest: Distribution
  let dir: string
  let spec: string

  /** `ferry sync SPEC --json` with every module it loaded listed. */
  async function syncLoading(): Promise<{ status: string; modules: string[] }> {
    const log = join(dir, `modules-${Date.now()}.log`)
    const r = await ferry(['sync', spec, '--json'], {
      env: { NODE_OPTIONS: `--import=${MODULE_LOG}`, FERRY_MODULE_LOG: log },
      cwd: dir,
    })
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout) as { entries: { status: string }[] }
    expect(report.entries).toHaveLength(1)
    return { status: report.entries[0]!.status, modules: (await readFile(log, 'utf8')).split('\n') }
  }

  const loaded = (modules: string[], tail: string) => modules.some((m) => m.endsWith(tail))

  beforeAll(async () => {
    ;[source, dest] = await Promise.all([startDistribution(), startDistribution()])
    dir = await mkdtemp(join(tmpdir(), 'ferry-start-up-'))
    const client = new RegistryClient()
    await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'acme/app' }),
      { seed: 'start-up', layers: 1, layerSize: 1024 },
      '1.0.0',
    )
    await client.close()
    spec = join(dir, 'mirror.yaml')
    await writeFile(
      spec,
      [
        'version: 1',
        `target: ${dest.host}/mirror`,
        'images:',
        `  - source: ${source.host}/acme/app`,
        '    tags: { semver: ">=1.0.0" }',
        '',
      ].join('\n'),
    )
  })

  afterAll(async () => {
    await Promise.all([source?.stop(), dest?.stop()])
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('the first sync loads the copy engine when it copies; the re-sync loads neither it nor the policy', async () => {
    const first = await syncLoading()
    expect(first.status).toBe('copied')
    expect(loaded(first.modules, '/dist/src/copy/copy.js')).toBe(true)

    const again = await syncLoading()
    expect(again.status).toBe('in-sync')
    // The ESM loader saw the command itself, so an empty list cannot pass for "nothing loaded".
    expect(loaded(again.modules, '/dist/commands/sync.js')).toBe(true)
    const unwanted = [
      '/dist/src/copy/copy.js',
      '/dist/src/governance/governed.js',
      '/dist/src/policy/load.js',
      '/dist/src/policy/check.js',
      '/dist/src/ledger/append.js',
      '/node_modules/cli-progress/cli-progress.js',
      '/node_modules/semver/index.js',
    ]
    expect(unwanted.filter((m) => loaded(again.modules, m))).toEqual([])
  })
})
