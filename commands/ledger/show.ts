import { Args } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { checkLine } from '../../cli/policy-render.js'
import { FerryError } from '../../src/errors.js'
import { ledgerRecordsFor, readLedger } from '../../src/ledger/index.js'

export default class LedgerShow extends FerryCommand<typeof LedgerShow> {
  static override summary =
    'Show every ledger record about one digest or tag: checks, labels, verdicts, actor.'
  static override description =
    'KEY is a digest (sha256:…), a tag (v1.4.2) or a destination with its tag (registry.intra/acme/web-prod:v1.4.2). ' +
    'Exit 3 when no record matches.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { records: ['object'] }

  static override examples = [
    '<%= config.bin %> ledger show promotions.jsonl v1.4.2',
    '<%= config.bin %> ledger show promotions.jsonl sha256:… --json',
  ]
  static override args = {
    file: Args.string({ required: true, description: 'The ledger (JSON Lines).' }),
    key: Args.string({ required: true, description: 'DIGEST, TAG or DESTINATION:TAG' }),
  }

  async run() {
    const { records } = await readLedger(this.args.file)
    const found = ledgerRecordsFor(records, this.args.key)
    if (!found.length) throw new FerryError('NOT_FOUND', `${this.args.file}: no record for ${this.args.key}`)
    for (const r of found) {
      this.out(`${r.time}  ${r.operation ?? 'promote'} ${r.verdict}${r.forced ? ' (forced)' : ''}`)
      if (r.actor) this.out(`  actor        ${r.actor}`)
      this.out(`  source       ${r.source}`)
      this.out(`  destination  ${r.destination}`)
      this.out(`  digest       ${r.digest}${r.previous ? ` (tag named ${r.previous} before)` : ''}`)
      this.out(`  environment  ${r.environment ?? '(none)'}`)
      for (const [k, v] of Object.entries(r.labels)) this.out(`  ${k.padEnd(12)} ${v}`)
      if (r.reason) this.out(`  reason       ${r.reason}`)
      for (const c of r.checks) this.out(`  ${checkLine(c, r.environment)}`)
      this.out(`  ferry        ${r.ferryVersion}`)
    }
    return { records: found }
  }
}
