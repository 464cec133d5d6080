/**
 * Every pattern of the reference grammar, written once: registry hosts, repository paths, tags, layout
 * ref names, the digest forms a reference may hold, the `https://` a registry may be written with, and
 * the tags that stand for attachments. Each is anchored so it can validate one part at a time and a
 * parser can say which part is wrong. Sources of truth: distribution/reference `regexp.go` (the grammar
 * docker, containerd and every registry share), the distribution spec ("Pulling manifests", "Referrers
 * Tag Schema"), containers/image `oci/internal/oci_util.go` for layout ref names (what skopeo accepts
 * after `oci:DIR:`), and cosign `pkg/oci/remote/remote.go normalize` for its tags.
 *
 * Copy, sync, bundles, policy, retention, the registry client, the layout and `ferry serve` all ask here.
 */
import { type Digest, isDigest, parseDigest } from '../oci/digest.js'

// --- registry hosts

// A domain component: letters, digits and inner dashes; case is kept for what ferry shows (hosts are
// case-insensitive: names are compared and keyed in canonical form, canonical.ts).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`
// IPv6 only in brackets, without zone identifiers (RFC 6874), as distribution does.
const IPV6 = '\\[[a-fA-F0-9:]+\\]'
export const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?$`)

/** `HOST[:PORT]`, `IPv4[:PORT]` or `[IPv6][:PORT]`. */
export const isRegistryHost = (host: string): boolean => DOMAIN_RE.test(host)

/**
 * Whether the first "/"-separated component of a name is its registry rather than the start of a
 * Docker Hub path: it contains "." or ":" (a domain, a port, a bracketed IPv6 address) or is `localhost`
 * (distribution/reference `normalize.go` splitDockerDomain). Unlike docker, an upper-case component is
 * no host: `User/repo` and `LOCALHOST/app` are Docker Hub paths, refused as not lowercase. References,
 * repository prefixes, policy globs and retention's catalog globs all decide by this.
 */
export const isHostComponent = (component: string): boolean =>
  component.includes('.') || component.includes(':') || component === 'localhost'

/**
 * `https://` or `http://` in front of a registry (what a port-forward or a browser shows): the one piece
 * of a URL a location may carry. Case-insensitive, as URL schemes are.
 */
export const REGISTRY_SCHEME_RE = /^(https?):\/\//i
export type Scheme = 'http' | 'https'

/** Any `scheme://` (for redacting user info from URL-like input, whatever its scheme). */
export const ANY_SCHEME_RE = /^[a-z][a-z0-9+.-]*:\/\//i

// --- repository paths

// One period, one or two underscores, or any run of dashes between lower-case alphanumerics.
export const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/

/** distribution's RepositoryNameTotalLengthMax: applies to the path, not the domain. */
export const REPOSITORY_MAX = 255

// An image ID (bare 64 hex) is never a repository name; docker refuses it to avoid the confusion.
export const IDENTIFIER_RE = /^[a-f0-9]{64}$/

/** Why a repository path (`library/nginx`) is invalid, or undefined when it is fine. */
export function pathProblem(path: string): string | undefined {
  if (path === '') return 'repository name is empty'
  for (const component of path.split('/')) {
    if (component === '')
      return 'repository name has an empty path component (leading, trailing or double "/")'
    if (PATH_COMPONENT_RE.test(component)) continue
    if (PATH_COMPONENT_RE.test(component.toLowerCase())) return 'repository name must be lowercase'
    return (
      `invalid path component "${component}": use lower-case letters and digits, ` +
      'separated by ".", "_", "__" or dashes'
    )
  }
  if (path.length > REPOSITORY_MAX) {
    return `repository name must not be more than ${REPOSITORY_MAX} characters (got ${path.length})`
  }
  return undefined
}

/** A repository path (`library/nginx`) as the distribution spec's `<name>`, at most REPOSITORY_MAX long. */
export const isRepositoryName = (path: string): boolean =>
  path.length <= REPOSITORY_MAX && pathProblem(path) === undefined

// --- tags

export const TAG_RE = /^\w[\w.-]{0,127}$/
export const TAG_MAX = 128

/** A distribution tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`. */
export const isTag = (value: string): boolean => TAG_RE.test(value)

/** Why a tag is invalid, or undefined when it is fine. */
export function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'tag is empty'
  if (tag.length > TAG_MAX) return `tag must be at most ${TAG_MAX} characters (got ${tag.length})`
  if (!TAG_RE.test(tag)) {
    return 'tag must start with a letter, digit or "_" and contain only letters, digits, "_", "." and "-"'
  }
  return undefined
}

// --- layout ref names

// containers/image's ref-name grammar for `oci:DIR:NAME` (the image-spec `org.opencontainers.image.ref.name`
// annotation): components of alphanumerics joined by `-._:@+` or `--`, separated by `/`.
const REF_NAME_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*'
export const LAYOUT_REF_NAME_RE = new RegExp(`^${REF_NAME_COMPONENT}(?:/${REF_NAME_COMPONENT})*$`)

/** An `org.opencontainers.image.ref.name` skopeo accepts (annotations.md). */
export const isRefName = (value: string): boolean => LAYOUT_REF_NAME_RE.test(value)

// --- digests, as a reference holds them

// Whether a manifest reference is meant as a digest: with the digest grammar in oci/, where the storage
// contract (content/, below this package) reaches it too.
export { isDigestReference } from '../oci/digest.js'

// distribution's digest shape (algorithm ":" hex); the algorithm is then checked by parseDigest.
export const DIGEST_SHAPE = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'

// The OCI digest grammar (`algorithm:encoded`): what may follow the "@" that starts a digest.
export const DIGEST_LIKE_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/

// --- attachment tags: the referrers tag schema and cosign's tags

/** cosign's tag suffixes for signatures, attestations and (deprecated) SBOMs stored beside an image. */
export const COSIGN_TAG_SUFFIXES = ['sig', 'att', 'sbom'] as const
export type CosignTagSuffix = (typeof COSIGN_TAG_SUFFIXES)[number]

/** `sha256:abc…` → `sha256-abc…`; the spec truncates the algorithm to 32 and the hex to 64 characters. */
export function referrersTag(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest)
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`
}

/** `<alg>-<hex>.<suffix>`, the tag cosign derives from the subject digest (`pkg/oci/remote/remote.go normalize`). */
export function cosignTag(digest: string, suffix: CosignTagSuffix): string {
  const { algorithm, hex } = parseDigest(digest)
  return `${algorithm}-${hex}.${suffix}`
}

/** The three cosign tags an image may have, in COSIGN_TAG_SUFFIXES order. */
export const cosignTags = (digest: string): string[] => COSIGN_TAG_SUFFIXES.map((s) => cosignTag(digest, s))

export interface AttachmentTag {
  /** The digest the tag is about. */
  subject: Digest
  /** `index`: the tag-schema referrers index; otherwise cosign's kind. */
  kind: 'index' | CosignTagSuffix
}

const ATTACHMENT_TAG_RE = /^(sha256|sha512)-([a-f0-9]{64}|[a-f0-9]{128})(?:\.(sig|att|sbom))?$/

/**
 * What an attachment tag (`sha256-HEX`, `sha256-HEX.sig|.att|.sbom`, sha512 alike) is about, or
 * undefined for an ordinary (version) tag. The hex must have its algorithm's length: `sha256-` and 100
 * hex digits is a version tag like any other.
 */
export function parseAttachmentTag(tag: string): AttachmentTag | undefined {
  const m = ATTACHMENT_TAG_RE.exec(tag)
  if (!m) return undefined
  const subject = `${m[1]}:${m[2]}`
  if (!isDigest(subject)) return undefined
  return { subject, kind: (m[3] as CosignTagSuffix | undefined) ?? 'index' }
}

export const isAttachmentTag = (tag: string): boolean => parseAttachmentTag(tag) !== undefined
