import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import type { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { pushArtifact, pushCosignStyleSignature } from '../helpers/registry-fixtures.js'

export const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
]

export interface SourceImages {
  /** `HOST/library/app:1.0`: a two-platform index with an SPDX SBOM referrer and a cosign-style .sig tag. */
  app: string
  index: Manifest
  sbom: Manifest
  signature: Manifest
  /** `HOST/tools/cli:2`: a single-platform image. */
  cli: string
  image: Manifest
}

/** Pushes the images the bundle tests carry across. `seed` keeps runs from sharing blobs. */
export async function pushSourceImages(
  client: RegistryClient,
  host: string,
  seed: string,
): Promise<SourceImages> {
  const app = client.repository(host, 'library/app')
  const index = await pushSyntheticIndex(
    app,
    { seed: `${seed}/app`, layers: 2, layerSize: 150_000 },
    PLATFORMS,
    '1.0',
  )
  const sbom = await pushArtifact(
    app,
    index,
    MediaType.spdxJson,
    JSON.stringify({ spdxVersion: 'SPDX-2.3', name: seed }),
  )
  const signature = await pushCosignStyleSignature(app, index)
  const tools = client.repository(host, 'tools/cli')
  const image = await pushSyntheticImage(tools, { seed: `${seed}/cli`, layers: 1, layerSize: 80_000 }, '2')
  return { app: `${host}/library/app:1.0`, index, sbom, signature, cli: `${host}/tools/cli:2`, image }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `ferry-bundle-${prefix}-`))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** Repositories on a distribution registry, straight from its API. */
export async function catalog(url: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/_catalog`)
  return ((await res.json()) as { repositories: string[] }).repositories
}
