import { Args } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { readLedger } from '../../src/promote/index.js'

export default class LedgerLs extends FerryCommand<typeof LedgerLs> {
  static override summary = 'List the promotion ledger: one line per attempt, oldest first.'
  static override description =
    'Reads a ledger written by `ferry promote --ledger FILE`. --json prints { "records": [ … ], "torn": false }, ' +
    'each record as promote wrote it; "torn" says a last line was cut short by a crash and left out.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { records: ['object'], torn: 'boolean' }

  static override examples = [
    '<%= config.bin %> ledger ls promotions.jsonl',
    '<%= config.bin %> ledger ls promotions.jsonl --json | jq ".records[] | select(.verdict == \\"refused\\")"',
  ]
  static override args = { file: Args.string({ required: true, description: 'The ledger (JSON Lines).' }) }

  async run() {
    const ledger = await readLedger(this.args.file)
    for (const r of ledger.records) {
      this.out(
        `${r.time}  ${r.verdict.padEnd(9)} ${r.digest.slice(0, 19)}  ${r.source} → ${r.destination}` +
          `${r.environment ? `  [${r.environment}]` : ''}${r.forced ? '  forced' : ''}${r.reason ? `  ${r.reason}` : ''}`,
      )
    }
    if (ledger.torn)
      this.note(
        `warning: ${this.args.file}: the last line is incomplete (a write cut short) and was left out`,
      )
    return ledger
  }
}
