/**
 * Manifest content negotiation (distribution-spec content-negotiation.md): a client that sends Accept
 * gets the stored manifest only when it lists that media type (or a wildcard covering it); manifests are
 * served byte for byte, never converted. No Accept header at all means "anything".
 */
export function acceptsMediaType(header: string | undefined, mediaType: string): boolean {
  if (header === undefined || header.trim() === '') return true
  const wanted = mediaType.toLowerCase()
  for (const part of header.split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase())
    if (type === '') continue
    // q=0 is an explicit "not acceptable" (RFC 9110 §12.4.2).
    if (params.some((p) => /^q=0(?:\.0{0,3})?$/.test(p))) continue
    if (type === '*/*' || type === wanted) return true
    if (type.endsWith('/*') && wanted.startsWith(type.slice(0, -1))) return true
  }
  return false
}
