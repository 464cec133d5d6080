import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import { attachSbom, signImage } from '../../src/supply/index.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { makeKeys, registryTarget, SPDX, tempDir } from '../supply/helpers.js'
import { examplePolicyIn, OCI_LABELS } from './helpers.js'

const keys = makeKeys()

async function signedRelease(target: Target, tag: string, signed = true) {
  const image = syntheticImage({ layerSizes: [256], annotations: OCI_LABELS })
  await pushImage(target, image, tag)
  if (signed) {
    await signImage({ target, reference: image.manifest.digest, key: keys.key, format: 'both' })
    const sbom = await attachSbom({ target, reference: image.manifest.digest, bytes: SPDX })
    await signImage({ target, reference: sbom.digest, key: keys.key })
  }
  return image.manifest
}

describe('governance from the command line', { timeout: 120_000 }, () => {
  let registry: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let policy: string
  let src: Target & { close(): Promise<void> }

  beforeAll(async () => {
    registry = await startDistribution()
    tmp = await tempDir('ferry-governance-cli-')
    policy = (await examplePolicyIn(tmp.dir, keys)).path
    src = registryTarget(registry.host, 'acme/shop/api')
  })
  afterAll(async () => {
    await src?.close()
    await registry?.stop()
    await tmp?.remove()
  })

  it('policy check: one row per rule, exit 7 on an enforce failure, the --json document', async () => {
    const good = await signedRelease(src, 'v1.0.0')
    await signedRelease(src, 'v1.0.1', false)
    const prod = registryTarget(registry.host, 'acme/shop/api-prod')
    await pushImage(prod, syntheticImage({ annotations: OCI_LABELS }), 'v1.0.1')
    await prod.close()

    const passing = await ferry([
      'policy',
      'check',
      `${registry.host}/acme/shop/api:v1.0.0`,
      '--policy',
      policy,
    ])
    expect(passing.code).toBe(0)
    expect(passing.stdout).toContain(
      `${registry.host}/acme/shop/api:v1.0.0  ${good.digest}  no environment (global rules, enforce)`,
    )
    expect(passing.stdout).toMatch(/ {2}pass {2}labels {6}found org\.opencontainers\.image\.source=/)

    const r = await ferry([
      'policy',
      'check',
      `${registry.host}/acme/shop/api:v1.0.0`,
      `${registry.host}/acme/shop/api-prod:v1.0.1`,
      '--policy',
      policy,
      '--json',
    ])
    expect(r.code).toBe(7)
    const doc = JSON.parse(r.stdout) as {
      results: {
        image: string
        digest: string
        environment: string | null
        checks: { rule: string; result: string; message: string }[]
      }[]
      summary: Record<string, number>
    }
    expect(Object.keys(doc).sort()).toEqual(['results', 'summary'])
    expect(doc.results.map((x) => [x.image, x.environment])).toEqual([
      [`${registry.host}/acme/shop/api:v1.0.0`, null],
      [`${registry.host}/acme/shop/api-prod:v1.0.1`, 'prod'],
    ])
    expect(doc.results[1]!.checks.map((c) => [c.rule, c.result])).toEqual([
      ['naming', 'pass'],
      ['labels', 'pass'],
      ['signature', 'fail'],
      ['sbom', 'fail'],
      ['tags.forbid', 'pass'],
      ['tags.semver', 'pass'],
      ['immutable', 'pass'],
    ])
    expect(doc.summary).toEqual({ images: 2, passed: 7, failed: 2, warnings: 0, skipped: 0 })
    expect(r.stderr.trim()).toBe('ferry: policy check failed: 2 enforce-mode rules failed')

    // --environment adds another environment's rules; a warn environment never fails the run.
    const warned = await ferry([
      'policy',
      'check',
      `${registry.host}/acme/shop/api:v1.0.1`,
      '--policy',
      policy,
      '--environment',
      'rc',
    ])
    expect(warned.code).toBe(0)
    expect(warned.stdout).toContain('environment rc (warn)')
  })

  it('policy check: a missing image is exit 3 and a bad policy file is exit 2, with the line', async () => {
    const missing = await ferry([
      'policy',
      'check',
      `${registry.host}/acme/shop/api:nope`,
      '--policy',
      policy,
    ])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('acme/shop/api')
    const bad = join(tmp.dir, 'bad.policy.yaml')
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(
        bad,
        'version: 1\nenvironments:\n  - name: x\n    mode: strict\n    match: { tags: { match: "*" } }\n',
      ),
    )
    const refused = await ferry(['policy', 'check', `${registry.host}/acme/shop/api:v1.0.0`, '--policy', bad])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`${bad}:4:11: environments[0].mode`)
  })

  it('policy schema prints the JSON Schema', async () => {
    const r = await ferry(['policy', 'schema'])
    expect(r.code).toBe(0)
    const schema = JSON.parse(r.stdout) as { title: string; properties: Record<string, unknown> }
    expect(schema.title).toBe('ferry policy file (ferry.policy.yaml)')
    expect(Object.keys(schema.properties)).toContain('environments')
    // An environment may carry its own naming, with the same template as the global one.
    const env = (schema.properties.environments as { items: { properties: Record<string, unknown> } }).items
    expect(env.properties.naming).toEqual(schema.properties.naming)
  })

  it('policy check on a bundle member, offline: the registry the image came from is gone', async () => {
    const origin = await startDistribution()
    const at = registryTarget(origin.host, 'acme/shop/web-prod')
    const m = await signedRelease(at, 'v2.0.0')
    await at.close()
    const file = join(tmp.dir, 'site.tar')
    const made = await ferry([
      'bundle',
      'create',
      '--image',
      `${origin.host}/acme/shop/web-prod:v2.0.0`,
      '--output',
      file,
      '--name',
      'site',
    ])
    expect(made.code, made.stderr).toBe(0)
    await origin.stop()

    const r = await ferry([
      'policy',
      'check',
      `bundle:${file}:${origin.host}/acme/shop/web-prod:v2.0.0`,
      '--policy',
      policy,
      '--json',
    ])
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as {
      results: { digest: string; environment: string; checks: { rule: string; result: string }[] }[]
    }
    expect(doc.results[0]!.digest).toBe(m.digest)
    expect(doc.results[0]!.environment).toBe('prod')
    expect(doc.results[0]!.checks.map((c) => [c.rule, c.result])).toEqual([
      ['naming', 'pass'],
      ['labels', 'pass'],
      ['signature', 'pass'],
      ['sbom', 'pass'],
      ['tags.forbid', 'pass'],
      ['tags.semver', 'pass'],
      ['immutable', 'pass'],
    ])
    const bad = await ferry(['policy', 'check', `bundle:${file}`, '--policy', policy])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('expected bundle:FILE.tar:IMAGE')
  })

  it('promote: refused with exit 7 and one line, promoted, and two concurrent processes share one ledger', async () => {
    const ledger = join(tmp.dir, 'promotions.jsonl')
    await signedRelease(src, 'v3.0.0', false)
    const refused = await ferry([
      'promote',
      `${registry.host}/acme/shop/api:v3.0.0`,
      `${registry.host}/acme/shop/api-prod`,
      '--policy',
      policy,
      '--ledger',
      ledger,
    ])
    expect(refused.code).toBe(7)
    expect(refused.stdout).toMatch(/^refused: /)
    expect(refused.stderr).toMatch(
      /ferry: promotion refused: .*api-prod:v3\.0\.0: signature \(environment prod\): no signature verifies with release\.pub/,
    )

    const a = await signedRelease(src, 'v3.1.0')
    const b = await signedRelease(src, 'v3.2.0')
    const [ra, rb] = await Promise.all(
      ['v3.1.0', 'v3.2.0'].map((tag) =>
        ferry([
          'promote',
          `${registry.host}/acme/shop/api:${tag}`,
          `${registry.host}/acme/shop/api-prod`,
          '--policy',
          policy,
          '--ledger',
          ledger,
          '--json',
        ]),
      ),
    )
    expect([ra!.code, rb!.code]).toEqual([0, 0])
    const doc = JSON.parse(ra!.stdout) as Record<string, unknown>
    expect(Object.keys(doc).sort()).toEqual(
      [
        'checks',
        'copy',
        'destination',
        'digest',
        'environment',
        'ferryVersion',
        'forced',
        'labels',
        'ledger',
        'source',
        'time',
        'verdict',
      ].sort(),
    )
    expect(doc.ferryVersion).toBe(
      JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')).version,
    )

    const lines = (await readFile(ledger, 'utf8')).trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    const ls = await ferry(['ledger', 'ls', ledger, '--json'])
    expect(ls.code).toBe(0)
    const listed = JSON.parse(ls.stdout) as { records: { verdict: string; digest: string }[]; torn: boolean }
    expect(listed.torn).toBe(false)
    expect(listed.records.map((x) => x.verdict).sort()).toEqual(['promoted', 'promoted', 'refused'])
    expect(
      listed.records
        .filter((x) => x.verdict === 'promoted')
        .map((x) => x.digest)
        .sort(),
    ).toEqual([a.digest, b.digest].sort())

    const show = await ferry(['ledger', 'show', ledger, 'v3.1.0'])
    expect(show.code).toBe(0)
    expect(show.stdout).toContain(`digest       ${a.digest}`)
    expect(show.stdout).toContain('revision     0b1c2d3e4f5a')
    expect((await ferry(['ledger', 'show', ledger, 'v9.9.9'])).code).toBe(3)
  })

  it('tag and delete: retag by digest, refuse to delete a digest other tags name, dry-run first', async () => {
    const repo = registryTarget(registry.host, 'acme/shop/tools')
    const image = syntheticImage()
    await pushImage(repo, image, 'v1')
    const digestRef = `${registry.host}/acme/shop/tools@${image.manifest.digest}`
    const tagged = await ferry(['tag', digestRef, 'stable', '--json'])
    expect(tagged.code).toBe(0)
    expect(JSON.parse(tagged.stdout)).toMatchObject({
      tag: 'stable',
      digest: image.manifest.digest,
      changed: true,
    })

    const refused = await ferry(['delete', `${registry.host}/acme/shop/tools:v1`])
    expect(refused.code).toBe(7)
    expect(refused.stderr).toContain(`acme/shop/tools@${image.manifest.digest} is also tagged stable`)

    const dry = await ferry(['delete', digestRef, '--force', '--dry-run', '--json'])
    expect(JSON.parse(dry.stdout)).toEqual({
      image: `${registry.host}/acme/shop/tools@${image.manifest.digest}`,
      digest: image.manifest.digest,
      tags: ['stable', 'v1'],
      deleted: false,
      dryRun: true,
    })
    expect((await repo.resolve('v1')).digest).toBe(image.manifest.digest)

    const done = await ferry(['delete', digestRef, '--force'])
    expect(done.code).toBe(0)
    expect(done.stdout).toBe(
      `deleted ${registry.host}/acme/shop/tools@${image.manifest.digest} (tags: stable, v1)\n`,
    )
    await expect(repo.fetchManifest(image.manifest.digest)).rejects.toThrow(/MANIFEST_UNKNOWN|not found/i)
    await repo.close()
  })

  it('delete on a registry with deletes disabled names the setting and changes nothing', async () => {
    const locked = await startDistribution({ deletes: false })
    try {
      const repo = registryTarget(locked.host, 'acme/shop/tools')
      const image = syntheticImage()
      await pushImage(repo, image, 'v1')
      const r = await ferry(['delete', `${locked.host}/acme/shop/tools:v1`])
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(
        'does not allow manifest DELETE (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true)',
      )
      expect((await repo.resolve('v1')).digest).toBe(image.manifest.digest)
      await repo.close()
    } finally {
      await locked.stop()
    }
  })
})
