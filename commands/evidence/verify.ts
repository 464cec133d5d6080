import { Args, Flags } from '@oclif/core'
import { repeatable } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import { formatBytes, plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { custodyEventShape, signatureStateType } from '../../cli/json-shapes.js'
import { type EvidenceVerification, verifyEvidence } from '../../src/evidence/verify.js'
import { custodyLines } from './ls.js'

export default class EvidenceVerify extends FerryCommand<typeof EvidenceVerify> {
  static override summary =
    'Verify an evidence pack offline: every entry’s sha256, the custody chain, the signature.'
  static override description =
    'Reads the tar once and hashes every entry: each must match SHA256SUMS, and SHA256SUMS must list every entry ' +
    '(nothing unlisted, nothing missing). The custody chain must hold: custody.jsonl, then each custody/NNNN.json ' +
    'in order, each linking to the event before it, so an event edited, removed or reordered is named. With --key, ' +
    'the statement’s signature must verify and name this SHA256SUMS and custody head, and each appended event ' +
    'signed by a given key must verify with it. Links, devices, "..", absolute paths, duplicate names, oversized ' +
    'entries and truncated tars are refused. Nothing is extracted, nothing is fetched.\n\n' +
    'The last events of the chain could be cut off unseen: --head HASH (the head the previous custodian printed) ' +
    'must then be an event of the chain.\n\n' +
    'Exit 0 with a summary; exit 5 naming the first bad entry.'
  static override examples = [
    '<%= config.bin %> evidence verify case-42.tar',
    '<%= config.bin %> evidence verify case-42.tar --key evidence.pub --key receiving-lab.pub',
    '<%= config.bin %> evidence verify case-42.tar --key evidence.pub --head sha256:4c1e… --json',
  ]
  static override args = { file: Args.string({ required: true, description: 'The evidence tar.' }) }
  static override flags = {
    key: Flags.string({
      description: 'Public key (NAME.pub) for the statement and signed custody events. Repeatable.',
      ...repeatable,
    }),
    head: Flags.string({
      description: 'A custody head (sha256:…) recorded elsewhere: it must be in the chain.',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    case: 'string',
    capturedAt: 'string',
    custodian: 'string',
    images: ['string'],
    files: 'number',
    custody: [custodyEventShape],
    head: 'string',
    entries: 'number',
    bytes: 'number',
    sums: 'string',
    signature: signatureStateType,
    'key?': 'string',
    ok: 'boolean',
  }

  async run() {
    const keys = await Promise.all((this.flags.key ?? []).map(loadPublicKey))
    const report = await verifyEvidence(this.args.file, { keys, head: this.flags.head })
    this.out(render(report))
    return report
  }
}

function render(r: EvidenceVerification): string {
  const signature =
    r.signature === 'verified'
      ? `signature verified (key ${r.key})`
      : r.signature === 'not-checked'
        ? 'signature not checked (no --key)'
        : 'unsigned'
  return [
    `Verified: ${r.file} — case ${r.case}, captured ${r.capturedAt} by ${r.custodian}; ${signature}`,
    `  ${plural(r.entries, 'entry', 'entries')} (${formatBytes(r.bytes)}) hashed, SHA256SUMS sha256 ${r.sums}: ${plural(r.files, 'file')}, ${plural(r.images.length, 'image')}`,
    ...r.images.map((i) => `    ${i}`),
    `  custody: ${plural(r.custody.length, 'event')}, head ${r.head}`,
    ...custodyLines(r.custody),
  ].join('\n')
}

/** Loaded only with --key: the key files module brings the Sigstore libraries with it. */
async function loadPublicKey(path: string) {
  const keys = await import('../../src/supply/key-files.js')
  return keys.loadPublicKey(path)
}
