/**
 * The bundle file format, version 2: one plain (uncompressed) tar that is a valid OCI image layout
 * (image-spec image-layout.md) at its root, plus ferry's own description of it.
 *
 *   oci-layout               {"imageLayoutVersion":"1.0.0"}
 *   ferry-bundle.json        what the bundle holds (schema below); every blob digest and size is listed,
 *                            and every index.json entry (so the signature covers the names, see names.ts)
 *   ferry-bundle.json.sig    optional: base64 (standard alphabet, no newline) of an ASN.1 DER ECDSA P-256
 *                            signature, SHA-256 over the exact bytes of ferry-bundle.json
 *   index.json               one entry per image, referrer and cosign tag, and a second, named
 *                            REPO@sha256:HEX, for an image pinned by digest (see entries.ts)
 *   blobs/sha256/HEX         every manifest and blob, each once
 *
 * Entries appear in exactly that order, blobs sorted by digest, all with the bundle's `created` as mtime,
 * uid/gid 0, mode 0644 and no user or group names, so the same content always makes the same bytes. The
 * metadata comes first so that a reader knows every name and size it must meet before the first blob,
 * and `bundle ls` or a delta's `--base` only read the first few KiB.
 *
 * Version 1 (ferry 0.1) had no `entries`: its signature did not cover index.json's names. It is still
 * read without a key, and refused with one (names.ts).
 *
 * `sequence` (from `bundle create --sequence N`) was added within version 2, as an optional field: the
 * metadata schema is loose, so a format-2 reader that predates it keeps the key (the signature still
 * covers the exact bytes) and ignores it; it only goes without the rollback check, which it never had. A
 * new version number would make every such reader refuse bundles it reads correctly. Like `created` it
 * never comes from the clock, so the same content and flags still make the same bytes. Import orders
 * bundles by it (see import-record.ts): an older bundle may not move a tag a newer one set.
 */
import { z } from 'zod'
import { digestSchema } from '../oci/schemas.js'

export const FORMAT_VERSION = 2
/** Version 1 bundles: no `entries`, names not signed. */
export const UNSIGNED_NAMES_FORMAT_VERSION = 1
/** The files that travel beside a bundle (parts index, inventory, mapping-out) are versioned apart from it. */
export const SIDE_FILE_FORMAT_VERSION = 1
export const OCI_LAYOUT_NAME = 'oci-layout'
export const INDEX_NAME = 'index.json'
export const METADATA_NAME = 'ferry-bundle.json'
export const SIGNATURE_NAME = 'ferry-bundle.json.sig'

/** The original reference as written in the spec (`postgres:16`), on each image's index.json entry. */
export const BUNDLE_SOURCE_ANNOTATION = 'io.ferry.bundle.source'

/** Upper bounds on the JSON files, checked against the tar header before a byte is read. */
export const MAX_JSON_BYTES: Record<string, number> = {
  [OCI_LAYOUT_NAME]: 4 * 1024,
  [INDEX_NAME]: 16 * 1024 * 1024,
  [METADATA_NAME]: 64 * 1024 * 1024,
  [SIGNATURE_NAME]: 4 * 1024,
}

const blobRefSchema = z.looseObject({ digest: digestSchema, size: z.number().int().nonnegative() })
export type BlobRef = z.infer<typeof blobRefSchema>

const referrerSchema = z.looseObject({
  digest: digestSchema,
  mediaType: z.string(),
  size: z.number().int().nonnegative(),
  artifactType: z.string().optional(),
  /** The manifest it is attached to (the image, an index child, or another referrer). */
  subject: digestSchema,
  /** cosign's `sha256-HEX.sig|att|sbom` tag, when attached that way rather than through `subject`. */
  tag: z.string().optional(),
})
export type ReferrerRecord = z.infer<typeof referrerSchema>

const imageSchema = z.looseObject({
  /** Normalised source reference: `docker.io/library/postgres:16`, or `REPO@sha256:…` when pinned by digest only. */
  source: z.string(),
  /** As written in the spec or on the command line. */
  original: z.string(),
  /** `docker.io/library/postgres`: the repository view of the layout the image lives in. */
  repository: z.string(),
  tag: z.string().optional(),
  /** The root manifest in the bundle. */
  digest: digestSchema,
  mediaType: z.string(),
  /** When a platform filter made a new index: the source index it was cut from. */
  sourceDigest: digestSchema.optional(),
  /** `os/arch[/variant]` of each child of an index, or of the image's config. */
  platforms: z.array(z.string()),
  referrers: z.array(referrerSchema),
  /** Distinct blobs (configs, layers; referrers' too) the image needs, and their total size; omitted ones included. */
  blobCount: z.number().int().nonnegative(),
  totalBytes: z.number().int().nonnegative(),
  /** A hint for import: the destination path under `--to` (mapping options override it). */
  destination: z.string().optional(),
})
export type ImageRecord = z.infer<typeof imageSchema>

const omittedSchema = blobRefSchema.extend({
  /** Repositories (paths on the receiving registry) known to hold the blob, from an inventory. */
  repositories: z.array(z.string()).optional(),
})
export type OmittedBlob = z.infer<typeof omittedSchema>

/**
 * An index.json entry as written there. Loose: every field it carries (platform, artifactType, urls, …)
 * is kept, so the comparison with index.json sees all of it.
 */
const entrySchema = z.looseObject({
  mediaType: z.string(),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
})
export type EntryRecord = z.infer<typeof entrySchema>

export const bundleMetadataSchema = z.looseObject({
  formatVersion: z.literal([UNSIGNED_NAMES_FORMAT_VERSION, FORMAT_VERSION], {
    message: `unsupported bundle format: this ferry reads formatVersion ${UNSIGNED_NAMES_FORMAT_VERSION} and ${FORMAT_VERSION}`,
  }),
  name: z.string(),
  version: z.string(),
  /** RFC 3339 UTC, whole seconds: SOURCE_DATE_EPOCH, else the newest `created` of the images (created-time.ts). */
  created: z.string(),
  /**
   * The publisher's release counter (`--sequence N`): orders bundles of one name ahead of `created`, which
   * two releases of unchanged images share. Absent unless given; written after `created` when present.
   */
  sequence: z.number().int().nonnegative().optional(),
  /**
   * Every index.json entry, in order, exactly as there (names, digests, media types, sizes, annotations):
   * what puts the names under the signature. Required from format 2 on (names.ts checks).
   */
  entries: z.array(entrySchema).optional(),
  images: z.array(imageSchema),
  /** Every file under blobs/ (manifests included), sorted by digest. */
  blobs: z.array(blobRefSchema),
  /** Blobs the images need that a delta leaves out: the receiving side must already have them. */
  omitted: z.array(omittedSchema),
  /** The bundle a delta was made against: its metadata digest and the source repositories it held. */
  base: z
    .looseObject({
      digest: digestSchema,
      name: z.string(),
      version: z.string(),
      repositories: z.array(z.string()),
    })
    .optional(),
  /** The inventory a delta was made against. */
  against: z.looseObject({ digest: digestSchema, source: z.string() }).optional(),
})
export type BundleMetadata = z.infer<typeof bundleMetadataSchema>

const totalSize = (blobs: readonly { size: number }[]) => blobs.reduce((n, b) => n + b.size, 0)

/** What a bundle carries and what (as a delta) it leaves out, in blobs and bytes. */
export function metadataTotals(m: BundleMetadata) {
  return {
    blobs: m.blobs.length,
    blobBytes: totalSize(m.blobs),
    omitted: { blobs: m.omitted.length, bytes: totalSize(m.omitted) },
  }
}

/** `FILE.parts.json`, written beside `FILE.000`, `FILE.001`, … by `--split-size`. */
export const partsIndexSchema = z.looseObject({
  formatVersion: z.literal(SIDE_FILE_FORMAT_VERSION),
  /** The bundle's name as given to --output. */
  bundle: z.string(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[a-f0-9]{64}$/),
  parts: z
    .array(
      z.looseObject({
        name: z.string().regex(/^[^/\\]+\.\d{3,}$/, 'a part name is FILE.NNN in the same directory'),
        size: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[a-f0-9]{64}$/),
      }),
    )
    .min(1),
})
export type PartsIndex = z.infer<typeof partsIndexSchema>

export const PARTS_INDEX_SUFFIX = '.parts.json'
export const partName = (output: string, i: number): string => `${output}.${String(i).padStart(3, '0')}`

/** JSON as ferry writes its files: two-space indent, trailing newline; keys in insertion order. */
export const encodeJson = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value, null, 2)}\n`)
