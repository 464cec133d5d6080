/**
 * The pieces of the reference grammar, each anchored so it can validate one part at a time and the
 * parser can say which part is wrong. Source of truth: distribution/reference `regexp.go` (the grammar
 * docker, containerd and every registry share) and, for layout ref names, containers/image
 * `oci/internal/oci_util.go` (what skopeo accepts after `oci:DIR:`).
 */

// A domain component: letters, digits and inner dashes; case is kept for what ferry shows (hosts are
// case-insensitive: names are compared and keyed in canonical form, canonical.ts).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`
// IPv6 only in brackets, without zone identifiers (RFC 6874), as distribution does.
const IPV6 = '\\[[a-fA-F0-9:]+\\]'
export const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?$`)

// One period, one or two underscores, or any run of dashes between lower-case alphanumerics.
export const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/

export const TAG_RE = /^\w[\w.-]{0,127}$/
export const TAG_MAX = 128

/** distribution's RepositoryNameTotalLengthMax: applies to the path, not the domain. */
export const REPOSITORY_MAX = 255

// An image ID (bare 64 hex) is never a repository name; docker refuses it to avoid the confusion.
export const IDENTIFIER_RE = /^[a-f0-9]{64}$/

// containers/image's ref-name grammar for `oci:DIR:NAME` (the image-spec `org.opencontainers.image.ref.name`
// annotation): components of alphanumerics joined by `-._:@+` or `--`, separated by `/`.
const REF_NAME_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*'
export const LAYOUT_REF_NAME_RE = new RegExp(`^${REF_NAME_COMPONENT}(?:/${REF_NAME_COMPONENT})*$`)

/** Why a tag is invalid, or undefined when it is fine. */
export function tagProblem(tag: string): string | undefined {
  if (tag === '') return 'tag is empty'
  if (tag.length > TAG_MAX) return `tag must be at most ${TAG_MAX} characters (got ${tag.length})`
  if (!TAG_RE.test(tag)) {
    return 'tag must start with a letter, digit or "_" and contain only letters, digits, "_", "." and "-"'
  }
  return undefined
}

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
