import { Args } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { readLedger, verifyLedger } from '../../src/ledger/index.js'

export default class LedgerLs extends FerryCommand<typeof LedgerLs> {
  static override summary = 'List the ledger: one line per promotion or tag attempt, oldest first.'
  static override description =
    'Reads a ledger written by `ferry promote --ledger FILE` or `ferry tag --ledger FILE`. Lines that are no ' +
    'record (a write a crash cut short, damage) are left out with a warning; every other record is listed. ' +
    'The chain is checked as well: a warning names the first line edited, removed or reordered (`ferry ledger ' +
    'verify` says the same with exit 5). --json prints { "records": [ … ], "torn": false, "skipped": [ … ], ' +
    '"chain": "intact" }, each record as it was written; "torn" says a last line was cut short by a crash and ' +
    'left out; "chain" is intact, broken or unchained (a ledger written before ferry chained its lines).'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    records: ['object'],
    torn: 'boolean',
    skipped: [{ line: 'number', why: 'string' }],
    chain: '"intact" | "broken" | "unchained"',
  }

  static override examples = [
    '<%= config.bin %> ledger ls promotions.jsonl',
    '<%= config.bin %> ledger ls promotions.jsonl --json | jq ".records[] | select(.verdict == \\"refused\\")"',
  ]
  static override args = { file: Args.string({ required: true, description: 'The ledger (JSON Lines).' }) }

  async run() {
    const { file } = this.args
    const [ledger, chain] = await Promise.all([readLedger(file), verifyLedger(file)])
    for (const r of ledger.records) {
      this.out(
        `${r.time}  ${r.verdict.padEnd(9)} ${r.digest.slice(0, 19)}  ${r.source} → ${r.destination}` +
          `${r.environment ? `  [${r.environment}]` : ''}${r.forced ? '  forced' : ''}${r.actor ? `  by ${r.actor}` : ''}` +
          `${r.reason ? `  ${r.reason}` : ''}`,
      )
    }
    for (const s of ledger.skipped) this.note(`warning: ${file}:${s.line}: ${s.why}; left out`)
    if (ledger.torn)
      this.note(`warning: ${file}: the last line is incomplete (a write cut short) and was left out`)
    if (chain.status === 'broken')
      this.note(
        `warning: ${file}:${chain.problem!.line}: the chain is broken: ${chain.problem!.message} (see ferry ledger verify)`,
      )
    const { checkpoints: _checkpoints, lines: _lines, ...listed } = ledger
    return { ...listed, chain: chain.status }
  }
}
