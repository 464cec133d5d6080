import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { LayoutTarget } from '../../src/layout/index.js'
import { descriptorOf } from '../../src/oci/descriptor.js'
import type { Digest } from '../../src/oci/digest.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { referrersTag } from '../../src/reference/grammar.js'
import {
  artifactFor,
  blobOf,
  type Image,
  manifestOf,
  pushImage,
  randomBlob,
  streamOf,
  syntheticImage,
} from '../helpers/registry-fixtures.js'

/** Every file under `dir` (relative path → size and mtime), to show a dry run changed nothing. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith('.lock')) continue
    const path = join(entry.parentPath, entry.name)
    const st = await stat(path)
    out[path.slice(dir.length + 1)] = `${st.size} ${st.mtimeMs}`
  }
  out['index.json bytes'] = await readFile(join(dir, 'index.json'), 'utf8')
  return out
}

/** Sets every file of `blobs/` to have been written `hours` ago: only reachability keeps them now. */
export async function backdateBlobs(root: string, hours: number): Promise<void> {
  const then = new Date(Date.now() - hours * 3_600_000)
  for (const entry of await readdir(join(root, 'blobs'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), then, then)
  }
}

export async function backdate(path: string, hours: number): Promise<void> {
  const then = new Date(Date.now() - hours * 3_600_000)
  await utimes(path, then, then)
}

/** Files of an image (manifest, config, layers) by digest. */
export const filesOf = (image: Image): string[] => [
  image.manifest.digest,
  image.config.desc.digest,
  ...image.layers.map((l) => l.desc.digest),
]

/**
 * A manifest in the store that no index.json entry names: stored through the view (which adds an entry),
 * then the entry dropped, as a delete by digest leaves it (the blob stays until a collection).
 */
export async function withoutEntry(target: LayoutTarget, image: Image): Promise<void> {
  await pushImage(target, image)
  await target.deleteManifest(image.manifest.digest as Digest)
}

/**
 * The referrers tag schema in a layout: an index tagged `sha256-HEX` listing `referrer`, which has no
 * entry of its own, so only the fallback index reaches it (as it does after a copy from a registry
 * without the referrers API that kept the tag).
 */
export async function fallbackIndex(target: LayoutTarget, subject: Manifest): Promise<Image> {
  const referrer = artifactFor(
    descriptorOf(subject, { artifactType: 'referrers' }),
    'application/vnd.example.fallback+json',
  )
  await withoutEntry(target, referrer)
  const index = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [
      {
        ...descriptorOf(referrer.manifest, { artifactType: 'referrers' }),
        artifactType: 'application/vnd.example.fallback+json',
      },
    ],
  })
  await target.tag(index, referrersTag(subject.digest as Digest))
  return referrer
}

/** Garbage: an image tagged once and deleted, with an artifact about it; a loose blob. */
export async function garbage(target: LayoutTarget): Promise<{ files: string[]; manifests: string[] }> {
  const old = syntheticImage({ layerSizes: [700] })
  await pushImage(target, old, 'old')
  await target.untag('old')
  await target.deleteManifest(old.manifest.digest as Digest)
  // Its subject is unreachable: it goes with it, whatever its own kind.
  const note = syntheticImage({
    layerSizes: [300],
    subject: descriptorOf(old.manifest, { artifactType: 'referrers' }),
  })
  await withoutEntry(target, note)
  const loose = randomBlob(900)
  await target.pushBlob(loose.desc, streamOf(loose.bytes))
  return {
    files: [...filesOf(old), ...filesOf(note), loose.desc.digest].sort(),
    manifests: [old.manifest.digest, note.manifest.digest].sort(),
  }
}

/** An upload in progress as serve leaves it in the root: a session file and a blob being written. */
export async function uploadsInProgress(root: string): Promise<string[]> {
  const session = join(root, '.uploads', `${process.pid}.0f0e0d0c-0b0a-4908-8706-050403020100.upload`)
  const partial = join(root, 'ingest', `sha256-${'ab'.repeat(32)}.${process.pid}.0123456789ab.partial`)
  await mkdir(join(root, '.uploads'), { recursive: true })
  await mkdir(join(root, 'ingest'), { recursive: true })
  await writeFile(session, blobOf('half of a layer').bytes)
  await writeFile(partial, blobOf('half of another').bytes)
  for (const f of [session, partial]) await backdate(f, 5)
  return [session, partial]
}
