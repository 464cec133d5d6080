import { Readable } from 'node:stream'
import { preconditionFailure } from '../content/precondition.js'
import type { DeleteSupport, TagOptions, TagOutcome, UntagOptions } from '../content/target.js'
import {
  EMPTY_BYTES,
  EMPTY_DESCRIPTOR,
  isUntagPlaceholder,
  untagPlaceholderBytes,
} from '../content/untag-placeholder.js'
import { FerryError, ifPresent } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { type Manifest, parseManifest } from '../oci/manifest.js'
import { hasBlob } from './blobs.js'
import type { RepoContext } from './context.js'
import { NOT_FOUND_ENTRY, registryError } from './errors.js'
import { deleteManifestRef, fetchManifest, pushManifest, resolveManifest } from './manifests.js'
import { pushBlob } from './upload.js'

/**
 * Tags on a registry, with preconditions. Registries offer no atomic compare-and-set on tags (distribution
 * ignores If-Match): the current value is read, the precondition checked, the PUT sent, and the tag read
 * back. A writer that slips in between is caught by the read-back and reported as CONFLICT.
 */

async function current(ctx: RepoContext, tag: string): Promise<Digest | undefined> {
  return (await ifPresent(resolveManifest(ctx, tag)))?.digest as Digest | undefined
}

function conflict(ctx: RepoContext, tag: string, why: string): FerryError {
  return new FerryError('CONFLICT', `${ctx.name}:${tag}: ${why}`)
}

export async function tagManifest(
  ctx: RepoContext,
  manifest: Manifest,
  tag: string,
  opts: TagOptions = {},
): Promise<TagOutcome> {
  // Without a precondition a tag is simply written, as `crane tag` does: one PUT, nothing read.
  if (!opts.precondition) {
    await pushManifest(ctx, manifest, tag)
    return { changed: true }
  }
  const previous = await current(ctx, tag)
  const failed = preconditionFailure(previous, manifest.digest, opts.precondition)
  if (failed) throw conflict(ctx, tag, failed)
  if (previous === manifest.digest) return { previous, changed: false }
  // Sent for registries that honour them (RFC 9110 §13.1); distribution ignores both.
  const conditions: Record<string, string> = previous
    ? { 'if-match': `"${previous}"` }
    : { 'if-none-match': '*' }
  await pushManifest(ctx, manifest, tag, conditions)
  const now = await current(ctx, tag)
  if (now !== manifest.digest) {
    throw conflict(ctx, tag, `another writer moved it to ${now ?? 'nothing'} while it was being tagged`)
  }
  return { previous, changed: true }
}

/**
 * Removes a tag and nothing else. Where the registry deletes tags (OCI 1.1), a DELETE by tag. Where it
 * deletes only manifests by digest (distribution 2.x), the tag is pointed at a placeholder manifest of its
 * own and the placeholder deleted by digest, which takes the tag with it; if that DELETE fails, the tag is
 * put back where it was. A registry that deletes nothing is refused before anything is written. A tag
 * found on one of ferry's placeholders is an untag a killed run did not finish: it is finished, whatever
 * `ifMatch` says (the placeholder stands for "being removed", never for an image).
 */
export async function untagManifest(
  ctx: RepoContext,
  tag: string,
  deletes: DeleteSupport,
  opts: UntagOptions = {},
): Promise<void> {
  const what = `${ctx.name}:${tag}`
  const previous = await current(ctx, tag)
  if (!previous) throw registryError(what, 404, '', NOT_FOUND_ENTRY.manifest)
  const unsupported = () =>
    new FerryError(
      'UNSUPPORTED',
      `${what}: the registry deletes neither tags nor manifests (deletes disabled, or not allowed for these credentials); the tag was left as it is`,
    )
  if (opts.ifMatch && previous !== opts.ifMatch) {
    const found = await fetchManifest(ctx, previous)
    if (!isUntagPlaceholder(found)) {
      throw conflict(ctx, tag, `points at ${previous}, expected ${opts.ifMatch}; not untagged`)
    }
    if (deletes.tag) return deleteManifestRef(ctx, tag)
    if (!deletes.manifest) throw unsupported()
    return deleteManifestRef(ctx, previous)
  }
  if (deletes.tag) return deleteManifestRef(ctx, tag)
  if (!deletes.manifest) throw unsupported()
  const original = await fetchManifest(ctx, previous)
  if (!(await hasBlob(ctx, EMPTY_DESCRIPTOR)))
    await pushBlob(ctx, EMPTY_DESCRIPTOR, Readable.from([EMPTY_BYTES]))
  const placeholder = parseManifest(untagPlaceholderBytes(tag), { subject: what })
  await tagManifest(ctx, placeholder, tag, { precondition: { ifMatch: previous } })
  try {
    await deleteManifestRef(ctx, placeholder.digest)
  } catch (err) {
    // Never leave the tag naming the placeholder: put it back, then report why the untag failed.
    await pushManifest(ctx, original, tag).catch((undo: unknown) => {
      throw new FerryError(
        'INTERNAL',
        `${what}: untag failed (${(err as Error).message}) and restoring ${previous} failed too (${(undo as Error).message}); the tag names placeholder ${placeholder.digest}`,
      )
    })
    throw err
  }
}
