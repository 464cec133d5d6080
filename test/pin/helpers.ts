import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../../src/registry/index.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { signImage } from '../../src/supply/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { makeKeys, type TestKeys } from '../supply/helpers.js'

export const FIXTURES = join(import.meta.dirname, 'fixtures')

/** The images of the fixtures, where `--registry HOST/site` puts them; the scheme each is signed in. */
export const SITE_IMAGES = [
  { repository: 'site/library/postgres', tag: '16', format: 'classic' },
  { repository: 'site/library/python', tag: '3.12-slim', format: 'bundle' },
  { repository: 'site/acme/mini-api', tag: '1.0', format: 'both' },
] as const

export interface Site {
  server: RunningServer
  host: string
  keys: TestKeys
  /** Repository → digest of each image pushed. */
  digests: Record<string, string>
  /** Pushes a small image (reproducible from `seed`), signed unless `key` is null. */
  push(
    repository: string,
    tag: string,
    opts?: { sign?: 'classic' | 'bundle' | 'both' | null },
  ): Promise<string>
  dir: string
  stop(): Promise<void>
}

/** ferry serve on loopback holding the fixtures' images, each signed with `keys`. */
export async function startSite(): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-pin-'))
  const server = await startServer({ root: join(dir, 'registry'), port: 0 })
  const client = new RegistryClient({})
  const keys = makeKeys()
  const digests: Record<string, string> = {}
  const push: Site['push'] = async (repository, tag, opts = {}) => {
    const target = client.repository({ registry: server.host, repository: repository })
    const m = await pushSyntheticImage(
      target,
      { seed: `${repository}:${tag}`, layers: 1, layerSize: 1024 },
      tag,
    )
    const sign = opts.sign === undefined ? 'classic' : opts.sign
    if (sign) await signImage({ target, reference: m.digest, key: keys.key, format: sign })
    digests[repository] = m.digest
    return m.digest
  }
  for (const i of SITE_IMAGES) await push(i.repository, i.tag, { sign: i.format })
  return {
    server,
    host: server.host,
    keys,
    digests,
    push,
    dir,
    async stop() {
      await client.close()
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** A fresh copy of the fixture inputs to work on. */
export async function copyInputs(site: Site, name: string): Promise<string> {
  const dir = join(site.dir, name)
  await cp(join(FIXTURES, 'input'), dir, { recursive: true })
  return dir
}

export interface SignedRegistry {
  /** The CNCF distribution registry the images are on. */
  registry: Distribution
  host: string
  /** Repository (`cache/library/postgres`) → digest of the image its tag names now. */
  digests: Record<string, string>
  /** The signers' public key, as a file for `--key`. */
  pub: string
  dir: string
  /** Pushes a small image (reproducible from `seed`), signed, and tags it (moving the tag if it exists). */
  push(repository: string, tag: string, seed?: string): Promise<string>
  stop(): Promise<void>
}

/**
 * A real distribution registry on loopback holding `images` (repository, tag), each signed with one key
 * in cosign's classic scheme: the internal registry of a closed site, as `--registry HOST/cache` sees it.
 */
export async function startSignedRegistry(
  images: readonly (readonly [string, string])[],
): Promise<SignedRegistry> {
  const [registry, dir] = await Promise.all([startDistribution(), mkdtemp(join(tmpdir(), 'ferry-pin-'))])
  const client = new RegistryClient({})
  const keys = makeKeys()
  const pub = join(dir, 'release.pub')
  await writeFile(pub, keys.publicKeyPem)
  const digests: Record<string, string> = {}
  const push: SignedRegistry['push'] = async (repository, tag, seed = `${repository}:${tag}`) => {
    const target = client.repository({ registry: registry.host, repository: repository })
    const m = await pushSyntheticImage(target, { seed, layers: 1, layerSize: 512 }, tag)
    await signImage({ target, reference: m.digest, key: keys.key, format: 'classic' })
    digests[repository] = m.digest
    return m.digest
  }
  for (const [repository, tag] of images) await push(repository, tag)
  return {
    registry,
    host: registry.host,
    digests,
    pub,
    dir,
    push,
    async stop() {
      await client.close()
      await registry.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * A golden file's text for this run: `<registry>` is the registry's HOST:PORT and `<digest:NAME>` the
 * digest of the repository whose last component is NAME (`<digest:postgres>`: …/library/postgres).
 */
export function expandGolden(text: string, host: string, digests: Record<string, string>): string {
  return text.replaceAll('<registry>', host).replace(/<digest:([^>]+)>/g, (_, name: string) => {
    const hits = Object.keys(digests).filter((r) => r.split('/').at(-1) === name)
    if (hits.length !== 1) throw new Error(`<digest:${name}>: ${hits.length} repositories end in ${name}`)
    return digests[hits[0]!]!
  })
}
