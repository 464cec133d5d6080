import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { evidenceDir, run, tempDir } from './helpers.js'

describe('ferry evidence push', { timeout: 120_000 }, () => {
  let reg: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let pack: string
  let image: string
  let digest: string

  beforeAll(async () => {
    reg = await startDistribution()
    tmp = await tempDir('push')
    const client = new RegistryClient()
    try {
      const m = await pushSyntheticImage(
        client.repository({ registry: reg.host, repository: 'forensics/db' }),
        { seed: 'evidence-push', layers: 1, layerSize: 10_000 },
        'v3',
      )
      digest = m.digest
    } finally {
      await client.close()
    }
    image = `${reg.host}/forensics/db:v3`
    pack = join(tmp.dir, 'inc-7.tar')
    const r = await run([
      'evidence',
      'pack',
      await evidenceDir(tmp.dir),
      '--image',
      image,
      '--case',
      'INC-7',
      '--output',
      pack,
    ])
    expect(r.code, r.stderr).toBe(0)
  })
  afterAll(async () => {
    await reg?.stop()
    await tmp?.cleanup()
  })

  it('pushes the pack as an artifact referring to --subject, which ferry referrers lists and copy --referrers carries', async () => {
    const pushed = await run([
      'evidence',
      'push',
      pack,
      `${reg.host}/forensics/db:inc-7`,
      '--subject',
      image,
      '--json',
    ])
    expect(pushed.code, pushed.stderr).toBe(0)
    const result = JSON.parse(pushed.stdout)
    const bytes = await readFile(pack)
    expect(result).toMatchObject({
      tag: 'inc-7',
      subject: digest,
      artifactType: 'application/vnd.ferry.evidence.v1+tar',
      case: 'INC-7',
      layer: { digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length },
    })

    const listed = await run(['referrers', image])
    expect(listed.code, listed.stderr).toBe(0)
    // The API or the sha256-HEX tag schema, whichever this registry version speaks.
    expect(listed.stdout).toMatch(
      new RegExp(
        `└── ${result.digest} {2}application/vnd\\.ferry\\.evidence\\.v1\\+tar {2}\\[(referrers-api|tag-schema)\\]`,
      ),
    )

    // The manifest as the registry holds it: the case, the capture time, one layer that is the tar.
    const res = await fetch(`${reg.url}/v2/forensics/db/manifests/inc-7`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    })
    const manifest = (await res.json()) as {
      annotations: Record<string, string>
      subject: { digest: string }
    }
    expect(manifest.annotations).toEqual({
      'io.ferry.evidence.case': 'INC-7',
      'org.opencontainers.image.created': '2024-05-01T10:00:00Z',
    })
    expect(manifest.subject.digest).toBe(digest)
    const blob = await fetch(`${reg.url}/v2/forensics/db/blobs/${result.layer.digest}`)
    expect(Buffer.from(await blob.arrayBuffer()).equals(bytes)).toBe(true)

    const copied = await run(['copy', image, `${reg.host}/archive/db:v3`, '--referrers'])
    expect(copied.code, copied.stderr).toBe(0)
    const there = await run(['referrers', `${reg.host}/archive/db:v3`, '--json'])
    expect(JSON.parse(there.stdout).attached.map((a: { digest: string }) => a.digest)).toContain(
      result.digest,
    )
  })

  it('refuses a subject in another repository, where its referrers would never list it', async () => {
    const r = await run(['evidence', 'push', pack, `${reg.host}/evidence/inc-7:v1`, '--subject', image])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(
      `is not in ${reg.host}/evidence/inc-7: a referrer is listed only in its subject’s repository`,
    )
  })
})
