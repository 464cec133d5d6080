import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type JsonShape, shapeProblems } from '../../cli/json-shape.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

const ROOT = join(import.meta.dirname, '..', '..')
const PASSWORD = 'json-Pa55word!'

/**
 * Each command's --json document against the shape its --help documents (JSON OUTPUT), key by key: a
 * script written against the help keeps working. The shapes come from the built manifest, as --help
 * reads them.
 */
describe('--json output matches the shape in --help', { timeout: 300_000 }, () => {
  let dir: string
  let layout: string
  let index: Manifest
  let reg: Distribution
  let locked: Distribution
  let shapes: Map<string, JsonShape>
  const env: Record<string, string> = { FERRY_PASSWORD: PASSWORD }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-json-'))
    env.DOCKER_CONFIG = join(dir, 'docker')
    layout = join(dir, 'layout')
    const target = await openLayoutTarget(layout, { create: true })
    index = await pushSyntheticIndex(
      target,
      { seed: 'json', layers: 1, layerSize: 3000, labels: { 'org.example.a': 'b' } },
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      '1.0',
    )
    await target.close()
    ;[reg, locked] = await Promise.all([
      startDistribution(),
      startDistribution({ htpasswd: `ci:${bcrypt.hashSync(PASSWORD, 4)}\n` }),
    ])
    const manifest = JSON.parse(await readFile(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { jsonOutput?: JsonShape; enableJsonFlag?: boolean }>
    }
    shapes = new Map(
      Object.entries(manifest.commands)
        .filter(([, c]) => c.jsonOutput !== undefined)
        .map(([id, c]) => [id.replaceAll(':', ' '), c.jsonOutput!]),
    )
  })
  afterAll(async () => {
    await Promise.all([reg?.stop(), locked?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  async function json(
    command: string,
    args: string[],
    opts: { input?: string; code?: number } = {},
  ): Promise<unknown> {
    const r = await ferry([...command.split(' '), ...args, '--json'], { env, input: opts.input })
    expect(r.code, `${command}: ${r.stderr}${r.stdout}`).toBe(opts.code ?? 0)
    const value = JSON.parse(r.stdout)
    const shape = shapes.get(command)
    expect(shape, `${command} documents no JSON OUTPUT`).toBeDefined()
    expect(shapeProblems(shape!, value), command).toEqual([])
    return value
  }

  it('every command with --json documents its shape', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { jsonOutput?: JsonShape; enableJsonFlag?: boolean; pluginType: string }>
    }
    const withJson = Object.entries(manifest.commands)
      .filter(([, c]) => c.enableJsonFlag)
      .map(([id]) => id.replaceAll(':', ' '))
      .sort()
    expect(withJson.filter((id) => !shapes.has(id))).toEqual([])
    expect(withJson).toHaveLength(44)
  })

  it('the comparison catches an undocumented key, a missing one and a wrong type', () => {
    const shape: JsonShape = { a: 'string', 'b?': 'number', c: [{ d: '"x" | "y"' }] }
    expect(shapeProblems(shape, { a: 'v', c: [{ d: 'x' }] })).toEqual([])
    expect(shapeProblems(shape, { a: 1, b: 2, c: [{ d: 'z', e: true }], f: null })).toEqual([
      '$.a: expected string, got 1',
      '$.c[0].d: expected "x" | "y", got "z"',
      '$.c[0].e: not documented',
      '$.f: not documented',
    ])
    expect(shapeProblems(shape, { c: [] })).toEqual(['$.a: missing'])
  })

  it('the help shows it', async () => {
    const help = await ferry(['copy', '--help'])
    expect(help.stdout).toContain('JSON OUTPUT')
    expect(help.stdout).toMatch(/"destination": \{\n\s+"name": string,/)
  })

  it('registry and layout commands', async () => {
    const app = `${reg.host}/acme/app`
    const copied = (await json('copy', [`oci:${layout}:1.0`, `${app}:1.0`])) as {
      destination: { digest: string }
    }
    expect(copied.destination.digest).toBe(index.digest)
    await json('copy', [`oci:${layout}:1.0`, `${app}:amd64`, '--platform', 'linux/amd64', '--referrers'])
    await json('digest', [`${app}:1.0`])
    await json('inspect', [`${app}:1.0`])
    await json('inspect', [`${app}:1.0`, '--platform', 'linux/arm64'])
    await json('tags', [app])
    await json('catalog', [reg.host])
    await json('key generate', ['--output-key-prefix', join(dir, 'release')])
    await json('key fingerprint', [join(dir, 'release.pub')])
    await json('key export-public', [join(dir, 'release.pub')])
    await json('sign', [`${app}:1.0`, '--key', join(dir, 'release.key'), '--format', 'both', '-a', 'k=v'])
    const sbomFile = join(dir, 'sbom.spdx.json')
    await writeFile(
      sbomFile,
      JSON.stringify({ spdxVersion: 'SPDX-2.3', SPDXID: 'SPDXRef-DOCUMENT', name: 'x' }),
    )
    await json('attach sbom', [`${app}:1.0`, '--file', sbomFile])
    const note = join(dir, 'note.txt')
    await writeFile(note, 'hello')
    await json('attach artifact', [
      `${app}:1.0`,
      '--file',
      note,
      '--artifact-type',
      'application/vnd.example.note',
      '-a',
      'k=v',
    ])
    await json('referrers', [`${app}:1.0`])
    // audit: clean while the tag names what the ledger recorded; a finding with its record once moved.
    const ledger = join(dir, 'audit.jsonl')
    const tagged = await ferry(['tag', `${app}:1.0`, 'audit-1', '--ledger', ledger, '--no-policy'], { env })
    expect(tagged.code, tagged.stderr).toBe(0)
    await json('audit', [app, '--ledger', ledger, '--no-policy'])
    await json('copy', [`${app}:amd64`, `${app}:audit-1`])
    await json('audit', [app, '--ledger', ledger, '--no-policy'], { code: 2 })
    // Not signed: the report says why, in the same shape.
    await json('verify', [`${app}:1.0`, '--key', join(dir, 'release.pub'), '--require-sbom'], { code: 5 })
    await json('verify', [`${app}:1.0`, '--key', join(dir, 'release.pub')])
    await json('attach sbom', [`${app}:1.0`, '--file', sbomFile, '--key', join(dir, 'release.key')])

    const spec = join(dir, 'mirror.yaml')
    await writeFile(
      spec,
      `version: 1\ntarget: ${reg.host}/mirror\nimages:\n  - source: ${app}\n    tags: ["1.0"]\n  - source: ${app}:nope\n`,
    )
    // One image missing: a failed entry next to a planned one, exit 1.
    await json('sync', [spec, '--dry-run'], { code: 1 })
    await json('sync', [spec], { code: 1 })
    await json('gc', ['--root', layout, '--dry-run'])
  })

  it('login and logout', async () => {
    await json('login', [locked.host, '-u', 'ci', '--password-stdin'], { input: PASSWORD })
    await json('logout', [locked.host])
  })

  it('bundles and inventories', async () => {
    const app = `${reg.host}/acme/app`
    const bundle = join(dir, 'app-1.0.tar')
    await json('bundle create', [
      '--image',
      `${app}:1.0`,
      '--output',
      bundle,
      '--key',
      join(dir, 'release.key'),
    ])
    await json('bundle ls', [bundle])
    await json('bundle verify', [bundle, '--key', join(dir, 'release.pub')])
    await json('bundle import', [
      bundle,
      '--to',
      `oci:${join(dir, 'site')}`,
      '--key',
      join(dir, 'release.pub'),
    ])
    await json('inventory', [`${reg.host}/acme`, '--output', join(dir, 'inventory.json')])
  })

  it('evidence packs', async () => {
    const app = `${reg.host}/acme/app`
    const pack = join(dir, 'case.tar')
    await writeFile(join(dir, 'seized.txt'), 'evidence\n')
    await json('evidence pack', [
      join(dir, 'seized.txt'),
      '--image',
      `${app}:1.0`,
      '--case',
      'CASE-1',
      '--captured-at',
      '2024-05-01T10:00:00Z',
      '--key',
      join(dir, 'release.key'),
      '--output',
      pack,
    ])
    await json('evidence custody', [
      pack,
      '--custodian',
      'lab',
      '--action',
      'received',
      '--key',
      join(dir, 'release.key'),
    ])
    await json('evidence ls', [pack])
    await json('evidence verify', [pack, '--key', join(dir, 'release.pub')])
    await json('evidence push', [pack, `${app}:case-1`, '--subject', `${app}:1.0`])
  })
})
