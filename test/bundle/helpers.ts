import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import tar from 'tar-stream'
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
  const app = client.repository({ registry: host, repository: 'library/app' })
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
  const tools = client.repository({ registry: host, repository: 'tools/cli' })
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

/** Tar entries for tests that take a bundle apart and put it back together, changed. */
export type Header = Parameters<tar.Pack['entry']>[0]
export interface Entry {
  header: Header
  body?: Buffer
}

/** The entries of a tar, bodies in memory (test bundles are small). */
export async function readEntries(path: string): Promise<Entry[]> {
  const extract = tar.extract()
  const entries: Entry[] = []
  const done = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = []
      for await (const c of entry) parts.push(c as Buffer)
      entries.push({ header: { ...entry.header }, body: Buffer.concat(parts) })
    }
  })()
  await pipeline(Readable.from(await readFile(path)), extract)
  await done
  return entries
}

export async function writeEntries(path: string, entries: Entry[]): Promise<void> {
  const pack = tar.pack()
  const written = pipeline(Readable.from(pack), createWriteStream(path))
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      e.body === undefined
        ? pack.entry(e.header, (err) => (err ? reject(err) : resolve()))
        : pack.entry(e.header, e.body, (err) => (err ? reject(err) : resolve())),
    )
  }
  pack.finalize()
  await written
}

export const file = (name: string, body: Buffer | string): Entry => ({
  header: { name, size: Buffer.byteLength(body), mode: 0o644, mtime: new Date(0) },
  body: Buffer.from(body),
})

const repoRoot = resolve(import.meta.dirname, '../..')
// Runs a command class from source (tsx), so the test needs no build of the whole project.
const entry = `const [file, ...args] = process.argv.slice(1)
const { default: Command } = await import(file)
await Command.run(args, ${JSON.stringify(repoRoot)})`

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

export function start(command: string, args: string[]): ChildProcess {
  const file = join(repoRoot, 'commands', `${command}.ts`)
  return spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', entry, '--', file, ...args],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    },
  )
}

/**
 * Runs `ferry COMMAND ARGS…` (COMMAND as `bundle/verify`) to its exit; one still running after 50 s
 * (a server that should have refused to start) is killed, so that no test leaves it behind.
 */
export function ferry(command: string, ...args: string[]): Promise<Run> {
  const child = start(command, args)
  const guard = setTimeout(() => child.kill('SIGKILL'), 50_000)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => {
    stdout += d
  })
  child.stderr!.on('data', (d) => {
    stderr += d
  })
  return new Promise((ok) =>
    child.once('exit', (code) => {
      clearTimeout(guard)
      ok({ code, stdout, stderr })
    }),
  )
}

/**
 * One ustar header block, checksummed, for archives tar-stream will not write: global pax headers, a
 * header whose size disagrees with its pax record.
 */
export function ustarHeader(name: string, typeflag: string, size: number): Buffer {
  const h = Buffer.alloc(512)
  h.write(name, 0, 100, 'utf8')
  h.write('0000644\0', 100)
  h.write('0000000\0', 108)
  h.write('0000000\0', 116)
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124)
  h.write('00000000000\0', 136)
  h.write(' '.repeat(8), 148)
  h.write(typeflag, 156)
  h.write('ustar\u000000', 257)
  const sum = h.reduce((n, b) => n + b, 0)
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
  return h
}

/** A header and its body padded to whole blocks; `headerSize` is what the header claims. */
export const rawEntry = (name: string, typeflag: string, body: Buffer, headerSize = body.length): Buffer =>
  Buffer.concat([
    ustarHeader(name, typeflag, headerSize),
    body,
    Buffer.alloc((512 - (body.length % 512)) % 512),
  ])

/** pax records `LEN KEY=VALUE\n`, LEN counting its own digits. */
export function paxBody(records: [string, string][]): Buffer {
  return Buffer.concat(
    records.map(([key, value]) => {
      const rest = Buffer.byteLength(` ${key}=${value}\n`)
      let length = rest + 1
      while (String(length).length + rest !== length) length++
      return Buffer.from(`${length} ${key}=${value}\n`)
    }),
  )
}

/** Entries (and raw extended headers) as one archive, with its end-of-archive blocks. */
export const rawTar = (chunks: Buffer[]): Buffer => Buffer.concat([...chunks, Buffer.alloc(1024)])
