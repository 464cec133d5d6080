import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import { formatBytes, plural, table } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { baseShape, bundleImageShape, omittedShape, signatureStateType } from '../../cli/json-shapes.js'
import { listBundle } from '../../src/bundle/list.js'

export default class BundleLs extends FerryCommand<typeof BundleLs> {
  static override summary = 'List what a bundle holds: images, platforms, digests, referrers and sizes.'
  static override description =
    'Reads ferry-bundle.json from the front of the tar without hashing the content (that is `bundle verify`). ' +
    'FILE may be a split bundle: its first part or FILE.parts.json. ' +
    'The header line says "signature verified" only with --key NAME.pub and a signature that verifies; without ' +
    '--key it says "signature not checked" (or "unsigned"), and a signature that does not verify with the key ' +
    'fails the command (VERIFY_FAILED, exit non-zero).'
  static override examples = [
    '<%= config.bin %> bundle ls mini-api-1.0.tar',
    '<%= config.bin %> bundle ls site.tar.000 --json',
    '<%= config.bin %> bundle ls mini-api-1.0.tar --key release.pub',
  ]
  static override flags = {
    key: Flags.string({
      description: 'Public key (NAME.pub): check the bundle signature over ferry-bundle.json.',
    }),
  }
  static override args = {
    file: Args.string({ required: true, description: 'Bundle (FILE.tar, FILE.000 or FILE.parts.json).' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    'parts?': ['string'],
    size: 'number',
    name: 'string',
    version: 'string',
    created: 'string',
    'sequence?': 'number',
    signed: 'boolean',
    signature: signatureStateType,
    images: [bundleImageShape],
    blobs: 'number',
    blobBytes: 'number',
    omitted: omittedShape,
    'base?': baseShape,
    'against?': { digest: 'string', source: 'string' },
  }

  async run() {
    const publicKey = this.flags.key ? await loadPublicKey(this.flags.key) : undefined
    const l = await listBundle(this.args.file, { publicKey })
    this.out(
      `${l.name} ${l.version}  ${l.sequence === undefined ? '' : `sequence ${l.sequence}  `}created ${l.created}  ${SIGNATURE_TEXT[l.signature]}  ${formatBytes(l.size)}${l.parts ? ` in ${plural(l.parts.length, 'part')}` : ''}`,
    )
    if (l.base) this.out(`delta of ${l.base.name} ${l.base.version} (${l.base.digest})`)
    if (l.against) this.out(`delta against the inventory of ${l.against.source} (${l.against.digest})`)
    const rows = [['IMAGE', 'DIGEST', 'PLATFORMS', 'BLOBS', 'SIZE']]
    for (const i of l.images) {
      rows.push([
        i.source,
        i.digest,
        i.platforms.join(',') || '-',
        String(i.blobCount),
        formatBytes(i.totalBytes),
      ])
      for (const r of i.referrers) {
        rows.push([`  ↳ ${r.tag ?? r.artifactType ?? r.mediaType}`, r.digest, '', '', formatBytes(r.size)])
      }
    }
    this.out(table(rows))
    this.out(
      `${plural(l.blobs, 'blob')} (${formatBytes(l.blobBytes)})${l.omitted.blobs ? `, ${l.omitted.blobs} left out (${formatBytes(l.omitted.bytes)}): the destination must have them` : ''}`,
    )
    return l
  }
}

const SIGNATURE_TEXT = {
  verified: 'signature verified',
  unsigned: 'unsigned',
  'not-checked': 'signature not checked (--key NAME.pub checks it)',
} as const

/** Loaded only with --key: the key files module brings the Sigstore libraries with it. */
async function loadPublicKey(path: string) {
  const keys = await import('../../src/supply/key-files.js')
  return keys.loadPublicKey(path)
}
