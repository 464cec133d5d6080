import { existsSync } from 'node:fs'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { GcResult } from '../../src/gc/index.js'
import { type LayoutTarget, OciLayout } from '../../src/layout/index.js'
import { descriptorOf } from '../../src/oci/descriptor.js'
import type { Digest } from '../../src/oci/digest.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry, startFerryServe } from '../helpers/cli.js'
import { artifactFor, randomBlob, streamOf } from '../helpers/registry-fixtures.js'
import { skopeo } from '../serve/policy-helpers.js'
import { makeKeys, PASSWORD, SPDX, tempDir } from '../supply/helpers.js'
import {
  backdateBlobs,
  fallbackIndex,
  filesOf,
  garbage,
  snapshot,
  uploadsInProgress,
  withoutEntry,
} from './fixtures.js'

const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
]
const env = { FERRY_PASSWORD: PASSWORD }

const blobFile = (root: string, digest: string) => join(root, 'blobs', ...digest.split(':'))

/**
 * `ferry gc` on an OCI layout holding everything a registry root holds: a multi-arch index whose platform
 * images have no entry of their own, a signature in both schemes (a cosign `.sig` tag and a referrer), a
 * signed SBOM, a referrers-tag-schema index, a referrer no entry names, an upload in progress, and
 * garbage whose files are all hours old, as is everything else: only reachability keeps a file.
 */
describe('ferry gc on an OCI layout', { timeout: 180_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let root: string
  let web: LayoutTarget
  let index: Manifest
  let junk: { files: string[]; manifests: string[] }
  let kept: string[]
  let uploads: string[]
  let young: string
  const pub = () => join(tmp.dir, 'release.pub')

  beforeAll(async () => {
    tmp = await tempDir('ferry-gc-')
    root = join(tmp.dir, 'root')
    const layout = await OciLayout.open(root, { create: true })
    web = layout.target('acme/web')
    index = await pushSyntheticIndex(web, { seed: 'gc', layers: 1, layerSize: 2000 }, PLATFORMS, '1.0')
    // As skopeo writes a multi-arch image: only the index is an entry.
    if (index.kind !== 'index') throw new Error('expected an index')
    for (const child of index.index.manifests) await web.deleteManifest(child.digest as Digest)
    const keys = makeKeys()
    await writeFile(join(tmp.dir, 'release.key'), keys.privateKeyPem)
    await writeFile(pub(), keys.publicKeyPem)
    await writeFile(join(tmp.dir, 'sbom.spdx.json'), SPDX)
    const image = `oci:${root}:acme/web:1.0`
    const signed = await ferry(['sign', image, '--key', join(tmp.dir, 'release.key'), '--format', 'both'], {
      env,
    })
    expect(signed.code, signed.stderr).toBe(0)
    const sbom = await ferry(
      [
        'attach',
        'sbom',
        image,
        '--file',
        join(tmp.dir, 'sbom.spdx.json'),
        '--key',
        join(tmp.dir, 'release.key'),
      ],
      { env },
    )
    expect(sbom.code, sbom.stderr).toBe(0)
    const fallback = await fallbackIndex(web, index)
    const note = artifactFor(
      descriptorOf(index, { artifactType: 'referrers' }),
      'application/vnd.example.note+json',
    )
    await withoutEntry(web, note)
    junk = await garbage(web)
    await backdateBlobs(root, 2)
    kept = (await listBlobs(root)).filter((d) => !junk.files.includes(d))
    for (const d of [...filesOf(fallback), ...filesOf(note)]) expect(kept).toContain(d)
    const fresh = randomBlob(400)
    await web.pushBlob(fresh.desc, streamOf(fresh.bytes))
    young = fresh.desc.digest
    uploads = await uploadsInProgress(root)
  })
  afterAll(async () => {
    await tmp?.remove()
  })

  it('--dry-run changes nothing and lists exactly the unreachable files', async () => {
    const before = await snapshot(root)
    const r = await ferry(['gc', '--root', root, '--dry-run', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout) as GcResult
    expect(doc.freed.map((i) => i.digest).sort()).toEqual(junk.files)
    expect(
      doc.freed
        .filter((i) => i.kind === 'manifest')
        .map((i) => i.digest)
        .sort(),
    ).toEqual(junk.manifests)
    expect(doc).toMatchObject({ dryRun: true, young: 1, missing: [], summary: { manifests: 2, blobs: 5 } })
    expect(await snapshot(root)).toEqual(before)

    const human = await ferry(['gc', '--root', root, '--dry-run'])
    expect(human.stdout).toMatch(/^would free 2 manifests and 5 blobs, \d/m)
    expect(human.stdout.split('\n').filter((l) => l.startsWith('would delete  sha256:'))).toHaveLength(7)
    expect(await snapshot(root)).toEqual(before)
  })

  it('frees them, keeps everything reachable, the young blob and the uploads in progress', async () => {
    const r = await ferry(['gc', '--root', root])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^freed 2 manifests and 5 blobs, [\d.]+ KiB; kept \d+ reachable/m)
    for (const d of junk.files) expect(existsSync(blobFile(root, d)), d).toBe(false)
    for (const d of [...kept, young]) expect(existsSync(blobFile(root, d)), d).toBe(true)
    for (const f of uploads) expect(existsSync(f), f).toBe(true)

    const again = JSON.parse((await ferry(['gc', '--root', root, '--json'])).stdout) as GcResult
    expect(again.freed).toEqual([])
  })

  it('the image still verifies (signature and signed SBOM) and every platform pulls', async () => {
    const verified = await ferry(['verify', `oci:${root}:acme/web:1.0`, '--key', pub(), '--require-sbom'])
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    const serve = await startFerryServe(['--root', root])
    try {
      for (const p of PLATFORMS) {
        const out = join(tmp.dir, `pulled-${p.architecture}`)
        const pulled = await skopeo(
          'copy',
          '--src-tls-verify=false',
          '--override-os',
          p.os,
          '--override-arch',
          p.architecture,
          `docker://${serve.host}/acme/web:1.0`,
          `oci:${out}:x`,
        )
        expect(pulled.code, pulled.stderr).toBe(0)
      }
    } finally {
      await serve.stop()
    }
  })
})

async function listBlobs(root: string): Promise<string[]> {
  return (await readdir(join(root, 'blobs', 'sha256'))).map((h) => `sha256:${h}`).sort()
}
