import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { custodyEventShape } from '../../cli/json-shapes.js'
import { SIGNING_KEY_HELP, signingKeyFlag, withSigner } from '../../cli/signing-key.js'
import { appendCustody } from '../../src/evidence/append.js'
import { CUSTODY_ACTIONS } from '../../src/evidence/custody.js'

export default class EvidenceCustody extends FerryCommand<typeof EvidenceCustody> {
  static override summary = 'Record a custody event (received, transferred, analysed) in an evidence pack.'
  static override description =
    'Verifies the pack, then appends the event as a new entry at the end of the tar, custody/NNNN.json (NNNN its ' +
    'place in the chain; with --key also custody/NNNN.json.sig, and the event names the key’s fingerprint). The ' +
    'entries before it are copied byte for byte into a new file written beside the pack and renamed over it, so ' +
    'SHA256SUMS and the statement keep verifying and a reader never sees half a file. The event links to the one ' +
    'before it by hash, as the ledger does: `evidence verify` names an event removed or reordered. Prints the new ' +
    'custody head: hand it over with the pack, the receiver checks it with `evidence verify --head`.\n\n' +
    'The time is now, or --at when the event is recorded after the fact.'
  static override examples = [
    '<%= config.bin %> evidence custody case-42.tar --custodian "B. Courier" --action transferred --note "sealed bag 7781 to the lab" --key courier.key',
    '<%= config.bin %> evidence custody case-42.tar --custodian "C. Lab" --action received --at 2024-05-02T09:15:00Z',
    '<%= config.bin %> evidence custody case-42.tar --custodian "C. Lab" --action analysed --note "timeline built, report R-42" --key lab.key',
  ]
  static override args = { file: Args.string({ required: true, description: 'The evidence tar.' }) }
  static override flags = {
    custodian: Flags.string({ required: true, description: 'Who holds, hands over or analyses the pack.' }),
    action: Flags.option({ options: CUSTODY_ACTIONS, required: true, description: 'What happened.' })(),
    note: Flags.string({ description: 'A note on the event.' }),
    at: Flags.string({ description: 'When it happened, RFC 3339, if not now.' }),
    key: signingKeyFlag({ description: `Sign the event with this key. ${SIGNING_KEY_HELP}` }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    event: custodyEventShape,
    head: 'string',
    signed: 'boolean',
  }

  async run() {
    const { flags } = this
    return withSigner(
      flags.key,
      (l) => this.note(l),
      async (signer) => {
        const result = await appendCustody(this.args.file, {
          custodian: flags.custodian,
          action: flags.action,
          note: flags.note,
          at: flags.at,
          signer,
          tool: `ferry ${this.config.version}`,
        })
        const e = result.event
        this.out(
          `${result.file}: custody event ${e.seq} ${e.action} by ${e.custodian} at ${e.time}${result.signed ? `, signed ${e.key}` : ''}`,
        )
        this.out(`custody head ${result.head}`)
        return result
      },
    )
  }
}
