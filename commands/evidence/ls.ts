import { Args } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import { table } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { custodyEventShape } from '../../cli/json-shapes.js'
import { type CustodyRecord, listEvidence } from '../../src/evidence/verify.js'

export default class EvidenceLs extends FerryCommand<typeof EvidenceLs> {
  static override summary = 'List an evidence pack: its entries and the custody history.'
  static override description =
    'Reads names, sizes and the custody events without hashing the content (`evidence verify` does that). A pack ' +
    'with hostile entries (links, "..", duplicates) or a broken custody chain is refused.'
  static override examples = [
    '<%= config.bin %> evidence ls case-42.tar',
    '<%= config.bin %> evidence ls case-42.tar --json',
  ]
  static override args = { file: Args.string({ required: true, description: 'The evidence tar.' }) }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    case: 'string',
    capturedAt: 'string',
    custodian: 'string',
    entries: [{ name: 'string', size: 'number' }],
    images: ['string'],
    files: 'number',
    custody: [custodyEventShape],
    head: 'string',
    signed: 'boolean',
  }

  async run() {
    const listing = await listEvidence(this.args.file)
    this.out(
      [
        `${listing.file} — case ${listing.case}, captured ${listing.capturedAt} by ${listing.custodian}${listing.signed ? ', signed' : ', unsigned'}`,
        'entries:',
        table(listing.entries.map((e) => [String(e.size), e.name])).replace(/^/gm, '  '),
        `custody (head ${listing.head}):`,
        ...custodyLines(listing.custody),
      ].join('\n'),
    )
    return listing
  }
}

/** One line per custody event: seq, time, action, custodian, where, and note and signature when there. */
export function custodyLines(events: readonly CustodyRecord[]): string[] {
  const rows = events.map((e) => [
    String(e.seq),
    e.time,
    e.action,
    e.custodian,
    `@${e.host}`,
    [e.note ? `"${e.note}"` : '', e.key ? `signed ${e.key}${e.signature ? ` (${e.signature})` : ''}` : '']
      .filter(Boolean)
      .join(' '),
  ])
  return table(rows)
    .split('\n')
    .map((l) => `    ${l.trimEnd()}`)
}
