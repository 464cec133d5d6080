import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import type { Command } from '@oclif/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { formatPlatform } from '../../src/oci/platform.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

const ROOT = join(import.meta.dirname, '..', '..')

type FlagDef = { multiple?: boolean; multipleNonGreedy?: boolean; delimiter?: string }

/** Every `multiple` flag of every command (its own and the global ones), as `command --flag`. */
async function repeatableFlags(): Promise<Map<string, FlagDef>> {
  const found = new Map<string, FlagDef>()
  const dir = join(ROOT, 'commands')
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    const file = join(entry.parentPath, entry.name)
    const command = (await import(file)).default as typeof Command
    const id = relative(dir, file).replace(/\.ts$/, '').replaceAll('/', ' ')
    const flags = { ...command.baseFlags, ...command.flags } as Record<string, FlagDef>
    for (const [name, flag] of Object.entries(flags)) {
      if (flag.multiple) found.set(`${id} --${name}`, flag)
    }
  }
  return found
}

describe('repeatable flags', () => {
  it('take one value per occurrence in every command, so flags may come before the arguments', async () => {
    const flags = await repeatableFlags()
    const own = [...flags.keys()]
      .filter((k) => !/--(insecure-registry|ca-file|allow-token-realm)$/.test(k))
      .sort()
    expect(own).toEqual([
      'attach artifact --annotation',
      'bundle create --image',
      'bundle create --platform',
      'bundle import --key',
      'bundle import --revoked',
      'bundle verify --key',
      'bundle verify --revoked',
      'copy --platform',
      'evidence pack --image',
      'evidence verify --key',
      'pin --key',
      'pin --revoked',
      'retention apply --all-repositories',
      'retention plan --all-repositories',
      'serve --name',
      'serve --upstream',
      'sign --annotation',
      'verify --annotation',
      'verify --key',
      'verify --revoked',
    ])
    // The global flags are on every command: 44 commands.
    expect(flags.size).toBe(own.length + 3 * 44)
    const greedy = [...flags].filter(([, f]) => f.multipleNonGreedy !== true).map(([k]) => k)
    expect(greedy).toEqual([])
    // Comma lists only where a value can never hold a comma (a KEY=VALUE annotation or a file path can).
    const commas = [...flags]
      .filter(([, f]) => f.delimiter === ',')
      .map(([k]) => k.replace(/^.* (--[a-z-]+)$/, '$1'))
    expect([...new Set(commas)].sort()).toEqual([
      '--all-repositories',
      '--allow-token-realm',
      '--image',
      '--insecure-registry',
      '--platform',
    ])
    expect([...flags].filter(([k, f]) => /--(annotation|ca-file)$/.test(k) && f.delimiter)).toEqual([])
    // Every --image takes a list, as the README says; a public key is a file path.
    expect([...flags].filter(([k, f]) => k.endsWith(' --image') && f.delimiter !== ',')).toEqual([])
    expect(flags.get('evidence verify --key')?.delimiter).toBeUndefined()
  })
})

// The built CLI, as users type it: flags first, then the arguments.
describe('repeatable flags before arguments (built CLI)', { timeout: 180_000 }, () => {
  const platforms = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
    { os: 'linux', architecture: 'arm', variant: 'v7' },
  ]
  let dir: string
  let src: string
  let dst: string
  let index: Manifest
  let reg: Distribution
  const env = { FERRY_PASSWORD: 'repeatable-flags' }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-flags-'))
    src = join(dir, 'src')
    dst = join(dir, 'dst')
    const target = await openLayoutTarget(src, { create: true })
    index = await pushSyntheticIndex(target, { seed: 'flags', layers: 1, layerSize: 2000 }, platforms, '1.0')
    await target.close()
    reg = await startDistribution()
  })
  afterAll(async () => {
    await reg?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  /** The platforms of the index tagged `tag` in the destination layout; for one platform's own manifest, that one. */
  async function copiedPlatforms(tag: string): Promise<string[]> {
    const target = await openLayoutTarget(dst)
    try {
      const m = await target.fetchManifest(tag)
      if (m.kind === 'index') return m.index.manifests.map((d) => formatPlatform(d.platform!))
      if (index.kind !== 'index') throw new Error('the source is not an index')
      const child = index.index.manifests.find((d) => d.digest === m.digest)
      return [`${formatPlatform(child!.platform!)} (own manifest)`]
    } finally {
      await target.close()
    }
  }

  it('copy --platform A SRC DST, --platform A --platform B SRC DST and --platform A,B SRC DST', async () => {
    const one = await ferry(['copy', '--platform', 'linux/arm64', `oci:${src}:1.0`, `oci:${dst}:one`])
    expect(one.stderr).not.toContain('Missing')
    expect(one.code, one.stderr).toBe(0)
    expect(await copiedPlatforms('one')).toEqual(['linux/arm64 (own manifest)'])

    const two = await ferry([
      'copy',
      '--platform',
      'linux/amd64',
      '--platform',
      'linux/arm/v7',
      `oci:${src}:1.0`,
      `oci:${dst}:two`,
    ])
    expect(two.code, two.stderr).toBe(0)
    expect(await copiedPlatforms('two')).toEqual(['linux/amd64', 'linux/arm/v7'])

    const list = await ferry([
      'copy',
      '--platform',
      'linux/arm64,linux/arm/v7',
      '--insecure-registry',
      'mirror.invalid:5000,other.invalid',
      `oci:${src}:1.0`,
      `oci:${dst}:list`,
    ])
    expect(list.code, list.stderr).toBe(0)
    expect(await copiedPlatforms('list')).toEqual(['linux/arm64', 'linux/arm/v7'])

    // After the arguments, as before.
    const after = await ferry(['copy', `oci:${src}:1.0`, `oci:${dst}:after`, '--platform', 'linux/amd64'])
    expect(after.code, after.stderr).toBe(0)
    expect(await copiedPlatforms('after')).toEqual(['linux/amd64 (own manifest)'])
  })

  it('sign --key KEY -a K=V -a K2=V2 IMAGE, verify … -a K=V IMAGE and attach artifact … -a K=V IMAGE', async () => {
    const keys = join(dir, 'release')
    expect((await ferry(['key', 'generate', '--output-key-prefix', keys], { env })).code).toBe(0)
    const copied = await ferry(['copy', `oci:${src}:1.0`, `oci:${dst}:signed`])
    expect(copied.code, copied.stderr).toBe(0)
    const image = `oci:${dst}:signed`

    // A value with a comma stays one annotation: annotations are never split.
    const sign = await ferry(
      ['sign', '--key', `${keys}.key`, '-a', 'release=1.0', '--annotation', 'note=a,b', image],
      { env },
    )
    expect(sign.code, sign.stderr).toBe(0)
    expect(sign.stdout).toBe(`${index.digest}\n`)

    const verify = await ferry([
      'verify',
      '--json',
      '--key',
      `${keys}.pub`,
      '-a',
      'release=1.0',
      '-a',
      'note=a,b',
      image,
    ])
    expect(verify.code, verify.stderr).toBe(0)
    expect(JSON.parse(verify.stdout).ok).toBe(true)

    const wrong = await ferry(['verify', '--key', `${keys}.pub`, '-a', 'release=2.0', image])
    expect(wrong.code).toBe(5)

    const notes = join(dir, 'NOTES.md')
    await writeFile(notes, '# notes\n')
    const attach = await ferry([
      'attach',
      'artifact',
      '--json',
      '--artifact-type',
      'application/vnd.acme.notes.v1',
      '--file',
      notes,
      '-a',
      'org.opencontainers.image.version=1.0',
      '-a',
      'x=y',
      image,
    ])
    expect(attach.code, attach.stderr).toBe(0)
    const target = await openLayoutTarget(dst)
    const artifact = await target.fetchManifest(JSON.parse(attach.stdout).digest)
    await target.close()
    if (artifact.kind !== 'image') throw new Error('expected an artifact manifest')
    expect(artifact.image.annotations).toMatchObject({
      'org.opencontainers.image.version': '1.0',
      x: 'y',
    })
  })

  it('bundle create --platform A --image REF,REF --output FILE', async () => {
    for (const repo of ['flags/a', 'flags/b']) {
      const r = await ferry(['copy', `oci:${src}:1.0`, `${reg.host}/${repo}:1.0`])
      expect(r.code, r.stderr).toBe(0)
    }
    const out = join(dir, 'two.tar')
    const created = await ferry([
      'bundle',
      'create',
      '--platform',
      'linux/arm64',
      '--image',
      `${reg.host}/flags/a:1.0,${reg.host}/flags/b:1.0`,
      '--output',
      out,
      '--json',
    ])
    expect(created.code, created.stderr).toBe(0)
    const listed = await ferry(['bundle', 'ls', out, '--json'])
    expect(listed.code, listed.stderr).toBe(0)
    const images = JSON.parse(listed.stdout).images as { source: string; platforms: string[] }[]
    expect(images.map((i) => [i.source, i.platforms])).toEqual([
      [`${reg.host}/flags/a:1.0`, ['linux/arm64']],
      [`${reg.host}/flags/b:1.0`, ['linux/arm64']],
    ])
  })
})
