import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openLayoutTarget } from '../../src/layout/index.js'
import { REF_NAME_ANNOTATION } from '../../src/layout/naming.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { blobOf, type Image, manifestOf, pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { makeKeys, PASSWORD, type TestKeys } from '../supply/helpers.js'

/** What the governance model requires on every image (annotations or config labels). */
export const LABELS = {
  'org.opencontainers.image.source': 'https://git.intra/acme/web',
  'org.opencontainers.image.revision': '0b1c2d3e4f5a',
}

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/**
 * skopeo as the writing (and reading) client; never throws, the test reads the exit code and stderr.
 * skopeo's log lines quote the registry's message Go-style (`msg="… \"v1.0.0\" …"`): stderr is given
 * back with those escapes taken out, so a test matches the message as the registry wrote it.
 */
export function skopeo(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('skopeo', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      resolve({ code, stdout, stderr: stderr.replace(/\\+"/g, '"') })
    })
  })
}

/** `skopeo copy` to the registry, keeping digests (the synthetic layers are gzip already). */
export const push = (src: string, dest: string, ...flags: string[]) =>
  skopeo('copy', '--preserve-digests', '--dest-tls-verify=false', ...flags, src, `docker://${dest}`)

/** `skopeo copy` from the registry into a fresh `oci:` directory. */
export const pull = (src: string, dir: string, ...flags: string[]) =>
  skopeo('copy', '--preserve-digests', '--src-tls-verify=false', ...flags, `docker://${src}`, `oci:${dir}:x`)

/**
 * The registry as its root holds it: every tag of `repository` with the digest it names (from the
 * layout's index.json, which a pull gate does not stand in front of) and every file of the blob store
 * (manifests are blobs there too: a manifest that was written shows up).
 */
export async function stateOf(root: string, repository: string) {
  const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[]
  }
  const tags: Record<string, string> = {}
  for (const e of index.manifests) {
    const ref = e.annotations?.[REF_NAME_ANNOTATION]
    if (ref?.startsWith(`${repository}:`)) tags[ref.slice(repository.length + 1)] = e.digest
  }
  const blobs = (await readdir(join(root, 'blobs', 'sha256'))).sort()
  return { tags, blobs }
}

/**
 * Images in an OCI layout for skopeo to push, sharing one config and one layer: variants differ only in
 * their manifest's annotations, so a refused push adds no blob the registry did not have and the blob
 * list shows whether the refused manifest was stored.
 */
export class SourceImages {
  private readonly base: Image

  private constructor(
    readonly dir: string,
    private readonly target: Awaited<ReturnType<typeof openLayoutTarget>>,
  ) {
    this.base = syntheticImage({ gzip: true, layerSizes: [512] })
  }

  static async create(dir: string): Promise<SourceImages> {
    return new SourceImages(dir, await openLayoutTarget(dir, { create: true }))
  }

  /** An image with these manifest annotations, as `oci:DIR:NAME`. */
  async image(
    name: string,
    annotations: Record<string, string>,
  ): Promise<{ ref: string; manifest: Manifest }> {
    const manifest = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: this.base.config.desc,
      layers: this.base.layers.map((l) => l.desc),
      annotations,
    })
    await pushImage(this.target, { ...this.base, manifest }, name)
    return { ref: `oci:${this.dir}:${name}`, manifest }
  }

  /** An image shaped like cosign's `.sig` images (a simple-signing layer, no file system), for `digest`. */
  async signature(name: string, digest: string): Promise<{ ref: string; manifest: Manifest }> {
    const payload = blobOf(
      JSON.stringify({ critical: { image: { 'docker-manifest-digest': digest } }, optional: { name } }),
      MediaType.cosignSimpleSigning,
    )
    const config = blobOf('{"architecture":"","os":"","config":{}}', MediaType.ociConfig)
    const manifest = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: config.desc,
      layers: [{ ...payload.desc, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
    })
    await pushImage(this.target, { config, layers: [payload], manifest }, name)
    return { ref: `oci:${this.dir}:${name}`, manifest }
  }

  /** A two-platform index whose platform images carry `labels` as config labels (each its own). */
  async index(name: string, labels: Record<string, string>[]): Promise<{ ref: string; manifest: Manifest }> {
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]
    const children = labels.map((l, i) => ({
      ...syntheticImage({ gzip: true, layerSizes: [256], platform: platforms[i]!, labels: l }),
      platform: platforms[i]!,
    }))
    for (const c of children) await pushImage(this.target, c)
    const manifest = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: children.map((c) => ({
        mediaType: c.manifest.mediaType,
        digest: c.manifest.digest,
        size: c.manifest.bytes.byteLength,
        platform: c.platform,
      })),
    })
    await pushImage(this.target, { config: children[0]!.config, layers: [], manifest }, name)
    return { ref: `oci:${this.dir}:${name}`, manifest }
  }
}

/** A cosign key pair in `dir`: PREFIX.key (encrypted with PASSWORD) and PREFIX.pub. */
export async function keyFiles(
  dir: string,
  prefix: string,
): Promise<{ keys: TestKeys; key: string; pub: string }> {
  const keys = makeKeys()
  const key = join(dir, `${prefix}.key`)
  const pub = join(dir, `${prefix}.pub`)
  await writeFile(key, keys.privateKeyPem, { mode: 0o600 })
  await writeFile(pub, keys.publicKeyPem)
  return { keys, key, pub }
}

/** The key password for `ferry sign`. */
export const SIGN_ENV = { FERRY_PASSWORD: PASSWORD }

/** The first `{"errors":[…]}` entry of a registry answer. */
export async function errorOf(res: Response): Promise<{ code: string; message: string } | undefined> {
  const body = (await res.json()) as { errors?: { code: string; message: string }[] }
  return body.errors?.[0]
}
