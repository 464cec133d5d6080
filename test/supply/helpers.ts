import { type KeyObject, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Target } from '../../src/content/target.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import { digestOf } from '../../src/oci/digest.js'
import { type Manifest, parseManifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/index.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/index.js'
import { putManifest } from '../helpers/registry-fixtures.js'

export const PASSWORD = 'correct horse battery staple'

export interface TestKeys {
  privateKeyPem: string
  publicKeyPem: string
  key: KeyObject
  pub: KeyObject
}

export function makeKeys(password = PASSWORD): TestKeys {
  const pair = generateKeyPair(password)
  return {
    ...pair,
    key: decryptPrivateKey(pair.privateKeyPem, password),
    pub: readPublicKey(pair.publicKeyPem),
  }
}

const json = (doc: unknown) => new Uint8Array(Buffer.from(JSON.stringify(doc)))

async function pushBlob(target: Target, mediaType: string, bytes: Uint8Array) {
  const desc = { mediaType, digest: digestOf(bytes), size: bytes.byteLength }
  await target.pushBlob(desc, Readable.from([Buffer.from(bytes)]))
  return desc
}

/** A small random image (config + one layer) pushed to `target`, optionally tagged. */
export async function pushTestImage(
  target: Target,
  tag?: string,
  platform = { os: 'linux', architecture: 'amd64' },
): Promise<Manifest> {
  const config = await pushBlob(
    target,
    MediaType.ociConfig,
    json({ ...platform, rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }),
  )
  const layer = await pushBlob(target, MediaType.ociLayerGzip, randomBytes(512))
  const manifest = parseManifest(
    json({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: [layer] }),
  )
  await putManifest(target, manifest, tag)
  return manifest
}

/** A two-platform index (children pushed first), tagged. */
export async function pushTestIndex(
  target: Target,
  tag: string,
): Promise<{ index: Manifest; children: Manifest[] }> {
  const platforms = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64' },
  ]
  const children = []
  for (const p of platforms) children.push(await pushTestImage(target, undefined, p))
  const index = parseManifest(
    json({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: children.map((c, i) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.bytes.byteLength,
        platform: platforms[i],
      })),
    }),
  )
  await putManifest(target, index, tag)
  return { index, children }
}

export const SPDX = json({
  spdxVersion: 'SPDX-2.3',
  dataLicense: 'CC0-1.0',
  SPDXID: 'SPDXRef-DOCUMENT',
  name: 'app',
  documentNamespace: 'https://example.com/spdx/app',
  packages: [],
})

export const CYCLONEDX = json({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components: [] })

/** A registry repository target on a loopback registry, with its own client. */
export function registryTarget(host: string, repository: string): Target & { close(): Promise<void> } {
  const client = new RegistryClient({})
  const repo = client.repository({ registry: host, repository: repository })
  const close = repo.close.bind(repo)
  repo.close = async () => {
    await close()
    await client.close()
  }
  return repo
}

export async function tempDir(prefix = 'ferry-supply-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

export const layoutTarget = (dir: string) => openLayoutTarget(dir, { create: true })
