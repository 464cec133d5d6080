import { FerryError } from '../errors.js'

/** A PEM block: its type label and the decoded body. */
export interface PemBlock {
  type: string
  bytes: Uint8Array
}

/** PEM as Go's `encoding/pem.Encode` writes it: 64-column standard base64, no headers, trailing newline. */
export function pemEncode(type: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64')
  const lines = b64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${type}-----\n`
}

const BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g
const STD_BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Standard base64 with padding, as Go's `base64.StdEncoding` requires (Node's decoder accepts anything). */
export function decodeStdBase64(text: string): Uint8Array | undefined {
  if (!STD_BASE64_RE.test(text)) return undefined
  return new Uint8Array(Buffer.from(text, 'base64'))
}

/**
 * Every PEM block in `text`. `source` names the file for messages; the body never appears in an error,
 * since for a private key it is the secret (or an encryption of it).
 */
export function pemDecode(text: string, source: string): PemBlock[] {
  const blocks: PemBlock[] = []
  for (const m of text.matchAll(BLOCK_RE)) {
    const body = m[2]!
    // RFC 7468 allows headers (Proc-Type, DEK-Info) before a blank line; cosign never writes any.
    if (body.includes(':')) {
      throw new FerryError('USAGE', `${source}: PEM block "${m[1]}" has headers, which are not supported`)
    }
    const bytes = decodeStdBase64(body.replace(/\s+/g, ''))
    if (!bytes) throw new FerryError('USAGE', `${source}: PEM block "${m[1]}" is not valid base64`)
    blocks.push({ type: m[1]!, bytes })
  }
  if (blocks.length === 0) throw new FerryError('USAGE', `${source}: no PEM block found`)
  return blocks
}

/** The first block of one of the accepted types, or a USAGE error naming what was found instead. */
export function pemBlockOfType(text: string, types: readonly string[], source: string): PemBlock {
  const blocks = pemDecode(text, source)
  const found = blocks.find((b) => types.includes(b.type))
  if (!found) {
    const seen = blocks.map((b) => `"${b.type}"`).join(', ')
    throw new FerryError(
      'USAGE',
      `${source}: expected a PEM block of type ${types.join(' or ')}, found ${seen}`,
    )
  }
  return found
}
