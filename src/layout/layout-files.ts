import { mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { FerryError } from '../errors.js'
import { MediaType } from '../oci/media-types.js'
import { type ImageIndex, imageIndexSchema, ociLayoutFileSchema } from '../oci/schemas.js'
import {
  createFileExclusive,
  errno,
  fileSystemReason,
  makeDirectories,
  notDirectoryError,
} from '../util/files.js'
import { INGEST_DIR } from './blobs.js'

// image-layout.md: the `oci-layout` marker and `index.json` at the root, content under `blobs/`.
export const OCI_LAYOUT_FILE = 'oci-layout'
export const INDEX_FILE = 'index.json'
export const BLOBS_DIR = 'blobs'
export const LAYOUT_VERSION = '1.0.0'

const encoder = new TextEncoder()

export function serializeIndex(index: ImageIndex): Uint8Array {
  // schemaVersion and mediaType first, then whatever else the index carried (unknown fields survive).
  const { schemaVersion, mediaType, ...rest } = index
  return encoder.encode(
    JSON.stringify({ schemaVersion, mediaType: mediaType ?? MediaType.ociIndex, ...rest }),
  )
}

function invalid(path: string, why: string): FerryError {
  return new FerryError('LAYOUT_INVALID', `${path}: ${why}`)
}

function parseJson(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    throw invalid(path, 'not valid JSON')
  }
}

export function parseIndexBytes(bytes: Uint8Array, path: string): ImageIndex {
  const parsed = imageIndexSchema.safeParse(parseJson(bytes, path))
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw invalid(path, `not an OCI image index${where}: ${issue?.message}`)
  }
  return parsed.data
}

function checkHeader(bytes: Uint8Array, path: string): void {
  const parsed = ociLayoutFileSchema.safeParse(parseJson(bytes, path))
  if (!parsed.success) throw invalid(path, 'not an oci-layout file (no imageLayoutVersion)')
  // Minor versions are backwards compatible by the spec's versioning rules; a new major is not.
  if (!/^1\.\d+\.\d+$/.test(parsed.data.imageLayoutVersion)) {
    throw invalid(path, `unsupported imageLayoutVersion "${parsed.data.imageLayoutVersion}"`)
  }
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path)
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined
    if (errno(err) === 'EISDIR') throw invalid(path, 'is a directory, expected a file')
    throw err
  }
}

/** Names a layout (or a writer interrupted while creating one) may hold; anything else is someone's data. */
const isLayoutName = (name: string) =>
  name === BLOBS_DIR || name === INGEST_DIR || name.startsWith(OCI_LAYOUT_FILE) || name.startsWith(INDEX_FILE)

const emptyIndex = (): Uint8Array => serializeIndex({ schemaVersion: 2, manifests: [] })

/**
 * Checks that `dir` is an image layout, or with `create` makes it one. Creation is allowed only in a
 * missing or empty directory, so a mistyped path never turns someone's folder into a layout. index.json
 * is written before oci-layout: a directory carrying the marker always has an index.
 */
export async function ensureLayout(dir: string, create: boolean): Promise<void> {
  try {
    await ensureLayoutFiles(dir, create)
  } catch (err) {
    throw err instanceof FerryError ? err : fileSystemFailure(dir, err)
  }
}

/** One line naming the path for what the file system refused (ENOTDIR, EACCES, EROFS, …). */
function fileSystemFailure(dir: string, err: unknown): FerryError {
  const where = (err as { path?: string }).path ?? dir
  const reason = fileSystemReason(err)
  const detail = where === dir ? reason : `${where} ${reason}`
  return new FerryError('LAYOUT_INVALID', `${dir}: cannot use as an OCI image layout: ${detail}`, {
    cause: err,
  })
}

async function ensureLayoutFiles(dir: string, create: boolean): Promise<void> {
  const found = await stat(dir).catch(async (err: unknown) => {
    if (errno(err) === 'ENOENT') return undefined
    throw errno(err) === 'ENOTDIR' ? await notDirectoryError(dir) : err
  })
  if (found && !found.isDirectory()) throw invalid(dir, 'not a directory')
  if (!found) {
    if (!create) throw new FerryError('NOT_FOUND', `${dir}: no such OCI image layout directory`)
    await makeDirectories(dir)
  }
  const headerPath = join(dir, OCI_LAYOUT_FILE)
  const indexPath = join(dir, INDEX_FILE)
  const header = await readOptional(headerPath)
  if (header) checkHeader(header, headerPath)
  else if (!create) throw invalid(dir, `not an OCI image layout (no ${OCI_LAYOUT_FILE} file)`)
  else {
    const foreign = (await readdir(dir)).filter((name) => !isLayoutName(name))
    if (foreign.length > 0) {
      throw invalid(
        dir,
        `not an OCI image layout and not empty (found "${foreign[0]}"); refusing to create one`,
      )
    }
  }
  if (create) {
    await mkdir(join(dir, BLOBS_DIR), { recursive: true })
    if (!(await readOptional(indexPath))) await createFileExclusive(indexPath, emptyIndex())
    if (!header) {
      await createFileExclusive(
        headerPath,
        encoder.encode(JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION })),
      )
    }
  }
  const index = await readOptional(indexPath)
  if (!index) throw invalid(dir, `OCI image layout without ${INDEX_FILE}`)
  parseIndexBytes(index, indexPath)
}
