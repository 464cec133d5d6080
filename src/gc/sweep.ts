import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { INGEST_DIR } from '../layout/blobs.js'
import { BLOBS_DIR } from '../layout/layout-files.js'
import { isDigest, parseDigest } from '../oci/digest.js'
import { errno, siblingTemp } from '../util/files.js'
import { pidAlive } from '../util/lock.js'

/** One file of the blob store. */
export interface BlobFile {
  digest: string
  size: number
  mtimeMs: number
}

/**
 * Every file of `blobs/ALG/HEX` whose name is a digest; anything else there is someone else's and stays.
 * Upload sessions (`.uploads/`) and blobs being written (`ingest/`) are outside `blobs/`: never listed.
 */
export async function listBlobFiles(dir: string): Promise<BlobFile[]> {
  const out: BlobFile[] = []
  const root = join(dir, BLOBS_DIR)
  for (const algorithm of await readdir(root).catch(() => [] as string[])) {
    for (const hex of await readdir(join(root, algorithm)).catch(() => [] as string[])) {
      const digest = `${algorithm}:${hex}`
      if (!isDigest(digest)) continue
      const st = await stat(join(root, algorithm, hex)).catch(() => undefined)
      if (st?.isFile()) out.push({ digest, size: st.size, mtimeMs: st.mtimeMs })
    }
  }
  return out.sort((a, b) => a.digest.localeCompare(b.digest))
}

const blobPath = (dir: string, digest: string) => {
  const { algorithm, hex } = parseDigest(digest)
  return join(dir, BLOBS_DIR, algorithm, hex)
}

// `sha256-HEX.PID.RAND.sweep` in ingest/: a blob taken out of the store, about to be deleted.
const SWEEP_RE = /^(sha256|sha512)-([a-f0-9]+)\.(\d+)\.[0-9a-f]+\.sweep$/

/**
 * Deletes one blob unless it was written (or found present and relied on: layout/blobs.ts `freshen`)
 * after `cutoff`. The file is first renamed out of the store, then its mtime read again: a writer that
 * freshened it before the rename made it young, and it goes back; one after the rename finds it gone and
 * writes it again. So a writer never relies on a blob this removes. False: it stayed.
 */
export async function sweepBlob(dir: string, digest: string, cutoff: number): Promise<boolean> {
  const path = blobPath(dir, digest)
  const { algorithm, hex } = parseDigest(digest)
  const aside = siblingTemp(join(dir, INGEST_DIR, `${algorithm}-${hex}`), 'sweep')
  try {
    await rename(path, aside)
  } catch (err) {
    if (errno(err) === 'ENOENT') return false
    throw err
  }
  const st = await stat(aside)
  if (st.mtimeMs >= cutoff) {
    await rename(aside, path)
    return false
  }
  await unlink(aside)
  return true
}

/**
 * Blobs an earlier collection took out of the store and did not finish with (it was killed): deleted,
 * unless a writer freshened one meanwhile, which goes back. Those of a collection still running stay.
 */
export async function finishInterruptedSweeps(dir: string, cutoff: number): Promise<void> {
  const ingest = join(dir, INGEST_DIR)
  for (const name of await readdir(ingest).catch(() => [] as string[])) {
    const m = SWEEP_RE.exec(name)
    if (!m || pidAlive(Number(m[3]))) continue
    const digest = `${m[1]}:${m[2]}`
    if (!isDigest(digest)) continue
    const aside = join(ingest, name)
    const st = await stat(aside).catch(() => undefined)
    if (!st) continue
    if (st.mtimeMs >= cutoff) {
      const path = blobPath(dir, digest)
      await mkdir(dirname(path), { recursive: true })
      await rename(aside, path)
    } else await unlink(aside)
  }
}
