import type { JsonShape } from './json-shape.js'

/** Pieces several commands' `--json` documents share (see json-shape.ts for the notation). */

const stringMap = { '*': 'string' } as const

export const descriptorShape = {
  mediaType: 'string',
  digest: 'string',
  size: 'number',
  'platform?': 'object',
  'annotations?': stringMap,
  'artifactType?': 'string',
  'urls?': ['string'],
} satisfies JsonShape

export const schemeType = '"referrers-api" | "tag-schema" | "layout" | "cosign-tag"'

/** The key that made a signature, and how the trust decision judged it (src/sign/trust.ts). */
export const signatureKeyShape = {
  fingerprint: 'string',
  'path?': 'string',
  'notBefore?': 'string',
  'notAfter?': 'string',
  status: '"trusted" | "revoked" | "expired" | "not-yet-valid" | "untrusted"',
} satisfies JsonShape

export const signatureCheckShape = {
  scheme: schemeType,
  format: '"classic" | "bundle"',
  subject: 'string',
  manifest: 'string',
  'layer?': 'string',
  'tag?': 'string',
  ok: 'boolean',
  'reason?': 'string',
  'key?': signatureKeyShape,
  checked: ['string'],
  notChecked: ['string'],
} satisfies JsonShape

/** `sign`, and `attach --key` (under `signature`). */
export const signResultShape = {
  name: 'string',
  reference: 'string',
  digest: 'string',
  'classic?': {
    tag: 'string',
    manifest: 'string',
    payload: 'string',
    skipped: 'boolean',
    signatures: 'number',
  },
  'bundle?': { manifest: 'string', bundle: 'string', keyless: 'boolean' },
} satisfies JsonShape

export const blobCountsShape = { copied: 'number', skipped: 'number', mounted: 'number' } satisfies JsonShape

export const omittedShape = { blobs: 'number', bytes: 'number' } satisfies JsonShape

export const baseShape = {
  digest: 'string',
  name: 'string',
  version: 'string',
  repositories: ['string'],
} satisfies JsonShape

export const bundleImageShape = {
  source: 'string',
  original: 'string',
  repository: 'string',
  'tag?': 'string',
  digest: 'string',
  mediaType: 'string',
  'sourceDigest?': 'string',
  platforms: ['string'],
  referrers: [
    {
      digest: 'string',
      mediaType: 'string',
      size: 'number',
      'artifactType?': 'string',
      subject: 'string',
      'tag?': 'string',
    },
  ],
  blobCount: 'number',
  totalBytes: 'number',
  'destination?': 'string',
} satisfies JsonShape

export const signatureStateType = '"verified" | "unsigned" | "not-checked"'

export { stringMap }

/** An entry of `referrers`: `children` are entries of the same shape (a signature on an SBOM, …). */
export const attachedEntryShape = {
  scheme: schemeType,
  digest: 'string',
  mediaType: 'string',
  size: 'number',
  'artifactType?': 'string',
  'annotations?': stringMap,
  'tag?': 'string',
  'missing?': 'boolean',
  children: ['object'],
} satisfies JsonShape

/** A policy rule's row (policy check, promote, tag): `environment` says whose rule it is. */
export const policyCheckShape = {
  rule: 'string',
  result: 'string',
  message: 'string',
  'environment?': 'string',
  'evidence?': 'object',
} satisfies JsonShape

/** One custody event of an evidence pack (`evidence ls`, `verify`, `custody`). */
export const custodyEventShape = {
  time: 'string',
  action: '"captured" | "received" | "transferred" | "analysed"',
  custodian: 'string',
  case: 'string',
  host: 'string',
  tool: 'string',
  'note?': 'string',
  'key?': 'string',
  seq: 'number',
  prev: 'string',
  hash: 'string',
  where: 'string',
  'signature?': signatureStateType,
} satisfies JsonShape
