import { readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { evidenceDir, readEntries, refusedByVerify, run, tempDir, tool } from './helpers.js'

describe('ferry evidence pack', { timeout: 120_000 }, () => {
  let reg: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let dir: string
  let image: string
  let digest: string
  let pack: string

  beforeAll(async () => {
    reg = await startDistribution()
    tmp = await tempDir('pack')
    dir = await evidenceDir(tmp.dir)
    const client = new RegistryClient()
    try {
      const m = await pushSyntheticImage(
        client.repository({ registry: reg.host, repository: 'forensics/web' }),
        { seed: 'evidence-pack', layers: 2, layerSize: 20_000 },
        'v1',
      )
      digest = m.digest
    } finally {
      await client.close()
    }
    image = `${reg.host}/forensics/web:v1`
    // The image as users have it: signed and with an SBOM, by ferry's own commands.
    expect((await run(['key', 'generate', '--output-key-prefix', join(tmp.dir, 'release')])).code).toBe(0)
    expect((await run(['key', 'generate', '--output-key-prefix', join(tmp.dir, 'other')])).code).toBe(0)
    const signed = await run(['sign', image, '--key', join(tmp.dir, 'release.key')])
    expect(signed.code, signed.stderr).toBe(0)
    const sbom = join(tmp.dir, 'sbom.spdx.json')
    await writeFile(sbom, JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'web', packages: [] }))
    const attached = await run(['attach', 'sbom', image, '--file', sbom])
    expect(attached.code, attached.stderr).toBe(0)

    pack = join(tmp.dir, 'case-42.tar')
    const r = await run([
      'evidence',
      'pack',
      dir,
      '--image',
      image,
      '--case',
      'CASE-42',
      '--custodian',
      'A. Analyst',
      '--key',
      join(tmp.dir, 'release.key'),
      '--output',
      pack,
    ])
    expect(r.code, r.stderr).toBe(0)
  })
  afterAll(async () => {
    await reg?.stop()
    await tmp?.cleanup()
  })

  it('holds the files, the image by digest with its signature and SBOM, and what sha256sum -c accepts after tar -x', async () => {
    const names = (await readEntries(pack)).map((e) => e.header.name)
    expect(names.slice(0, 4)).toEqual([
      'SHA256SUMS',
      'custody.jsonl',
      'files/disk-dump/notes.txt',
      'files/disk-dump/var/log/auth.log',
    ])
    expect(names.slice(-2)).toEqual(['statement.intoto.json', 'statement.intoto.json.sig'])
    expect(names).toEqual([...names].sort())

    const out = join(tmp.dir, 'extracted')
    await import('node:fs/promises').then((fs) => fs.mkdir(out))
    expect(tool('tar', ['-xf', pack, '-C', out], tmp.dir).status).toBe(0)
    const check = tool('sha256sum', ['-c', 'SHA256SUMS'], out)
    expect(check.status, check.stderr).toBe(0)
    expect(check.stdout).toContain('files/disk-dump/var/log/auth.log: OK')
    expect(check.stdout).toContain('custody.jsonl: OK')
    // Every entry is listed, but SHA256SUMS itself and the statement with its signature.
    const listed = (await readFile(join(out, 'SHA256SUMS'), 'utf8')).trim().split('\n')
    expect(listed).toHaveLength(names.length - 3)

    // One OCI layout: the image under REPO@sha256:HEX, its cosign signature and its SBOM referrer with it.
    const index = JSON.parse(await readFile(join(out, 'images', 'index.json'), 'utf8'))
    const refNames = index.manifests.map(
      (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'],
    )
    expect(refNames).toContain(`${reg.host}/forensics/web@${digest}`)
    expect(refNames).toContain(`${reg.host}/forensics/web:sha256-${digest.slice(7)}.sig`)
    expect(index.manifests.map((m: { artifactType?: string }) => m.artifactType)).toContain(
      'application/spdx+json',
    )
    const skopeo = tool(
      'skopeo',
      ['inspect', '--raw', `oci:${join(out, 'images')}:${reg.host}/forensics/web@${digest}`],
      tmp.dir,
    )
    expect(skopeo.status, skopeo.stderr).toBe(0)

    // The captured event, as the field expects it: who, what, when, how.
    const event = JSON.parse((await readFile(join(out, 'custody.jsonl'), 'utf8')).trim())
    expect(event).toMatchObject({
      time: '2024-05-01T10:00:00Z',
      action: 'captured',
      custodian: 'A. Analyst',
      case: 'CASE-42',
      tool: expect.stringMatching(/^ferry \d/),
      host: expect.any(String),
      seq: 1,
    })

    // The signature is what openssl checks, over the statement naming SHA256SUMS.
    const der = Buffer.from(await readFile(join(out, 'statement.intoto.json.sig'), 'utf8'), 'base64')
    await writeFile(join(tmp.dir, 'sig.der'), der)
    const openssl = tool(
      'openssl',
      [
        'dgst',
        '-sha256',
        '-verify',
        join(tmp.dir, 'release.pub'),
        '-signature',
        join(tmp.dir, 'sig.der'),
        join(out, 'statement.intoto.json'),
      ],
      tmp.dir,
    )
    expect(openssl.stdout.trim(), openssl.stderr).toBe('Verified OK')
    const statement = JSON.parse(await readFile(join(out, 'statement.intoto.json'), 'utf8'))
    const sums = tool('sha256sum', ['SHA256SUMS'], out).stdout.split(' ')[0]
    expect(statement.subject[0]).toEqual({ name: 'SHA256SUMS', digest: { sha256: sums } })
  })

  it('gives byte-identical packs of the same input and time', async () => {
    const again = join(tmp.dir, 'again.tar')
    const r = await run([
      'evidence',
      'pack',
      dir,
      '--image',
      image,
      '--case',
      'CASE-42',
      '--custodian',
      'A. Analyst',
      '--key',
      join(tmp.dir, 'release.key'),
      '--output',
      again,
    ])
    expect(r.code, r.stderr).toBe(0)
    expect((await readFile(again)).equals(await readFile(pack))).toBe(true)
  })

  it('verifies with the signing key, and refuses another key (exit 5)', async () => {
    const ok = await run(['evidence', 'verify', pack, '--key', join(tmp.dir, 'release.pub')])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(
      /^Verified: .*case CASE-42, captured 2024-05-01T10:00:00Z by A\. Analyst; signature verified/,
    )
    expect(ok.stdout).toContain(`${reg.host}/forensics/web@${digest}`)
    await refusedByVerify(
      pack,
      /statement\.intoto\.json\.sig does not verify statement\.intoto\.json with the given key/,
      ['--key', join(tmp.dir, 'other.pub')],
    )
  })

  it('refuses to pack a symbolic link, a layout as --image, and to take the time from the clock', async () => {
    const linked = await evidenceDir(tmp.dir, 'linked')
    await symlink('/etc/passwd', join(linked, 'passwd'))
    const r = await run(['evidence', 'pack', linked, '--case', 'C', '--output', join(tmp.dir, 'no.tar')])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(
      `ferry: ${join(linked, 'passwd')} is a symbolic link; an evidence pack holds regular files only (copy what it points at, or move it out)`,
    )
    const clock = await run(['evidence', 'pack', dir, '--case', 'C', '--output', join(tmp.dir, 'no.tar')], {
      SOURCE_DATE_EPOCH: '',
    })
    expect(clock.code).toBe(2)
    expect(clock.stderr).toContain('evidence pack needs the capture time: --captured-at')
    const layout = await run([
      'evidence',
      'pack',
      dir,
      '--image',
      `oci:${tmp.dir}:web@${digest}`,
      '--case',
      'C',
      '--output',
      join(tmp.dir, 'no.tar'),
    ])
    expect(layout.code).toBe(2)
    expect(layout.stderr).toContain('expected a registry reference, not an oci: layout')
    const files = await import('node:fs/promises').then((fs) => fs.readdir(tmp.dir))
    expect(files.filter((f) => f.startsWith('no.tar'))).toEqual([])
  })
})
