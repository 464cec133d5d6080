import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import { plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { exitCodeFor, FerryError } from '../../src/errors.js'
import { verifyLedger } from '../../src/ledger/index.js'

export default class LedgerVerify extends FerryCommand<typeof LedgerVerify> {
  static override summary = 'Check the ledger’s hash chain and signed checkpoints.'
  static override description =
    'Each line ferry writes carries its position (seq) and the sha256 of the line before it (prev), so an ' +
    'edited, removed, inserted or reordered line breaks the chain: the first such line is named and the exit ' +
    'code is 5. A ledger written before ferry chained its lines is reported "unchained" (exit 5: nothing in it ' +
    'can be verified; `ledger ls` still reads it, and the next append starts the chain). A torn line that a ' +
    'repair record names is no break.\n\n' +
    'An unkeyed chain can be rewritten whole by whoever can write the file; `ferry ledger checkpoint` signs ' +
    'the head with a key, and with --key NAME.pub every checkpoint’s signature must verify and its head must ' +
    'be the chain’s at its place, so lines a checkpoint covers cannot be changed or removed unseen. Lines after ' +
    'the last checkpoint can still be cut off: the report gives the head hash to keep elsewhere.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    status: '"intact" | "broken" | "unchained"',
    lines: 'number',
    unchained: 'number',
    head: 'string',
    'problem?': { line: 'number', message: 'string' },
    repaired: ['number'],
    torn: 'boolean',
    checkpoints: [
      {
        line: 'number',
        covers: 'number',
        head: 'string',
        key: 'string',
        signature: '"verified" | "not-checked"',
      },
    ],
    uncovered: 'number',
  }

  static override examples = [
    '<%= config.bin %> ledger verify promotions.jsonl',
    '<%= config.bin %> ledger verify promotions.jsonl --key ledger.pub --json',
  ]
  static override args = { file: Args.string({ required: true, description: 'The ledger (JSON Lines).' }) }
  static override flags = {
    key: Flags.string({ description: 'Public key (NAME.pub) every checkpoint must be signed with.' }),
  }

  async run() {
    const { file } = this.args
    const { loadPublicKey } = await import('../../src/supply/key-files.js')
    const publicKey = this.flags.key ? await loadPublicKey(this.flags.key) : undefined
    const report = await verifyLedger(file, { publicKey })
    const failure =
      report.status === 'broken'
        ? new FerryError('VERIFY_FAILED', `${file}:${report.problem!.line}: ${report.problem!.message}`)
        : report.status === 'unchained'
          ? new FerryError(
              'VERIFY_FAILED',
              `${file}: unchained: ${report.lines === 1 ? 'its one line carries no' : `none of its ${report.lines} lines carries a`} hash chain (written before ferry chained its ledger); nothing to verify`,
            )
          : undefined
    if (failure) {
      if (this.jsonEnabled()) {
        process.exitCode = exitCodeFor(failure)
        return report
      }
      throw failure
    }
    const signed = report.checkpoints.at(-1)
    this.out(`${file}: intact, ${plural(report.lines, 'line')}, head ${report.head}`)
    if (report.unchained > 1)
      this.note(`lines 1-${report.unchained - 1} predate the chain: a change to them cannot be detected`)
    if (report.repaired.length) this.note(`torn lines repaired: ${report.repaired.join(', ')}`)
    if (report.torn) this.note('the last line is incomplete (a write cut short); the next append repairs it')
    if (signed) {
      const how = signed.signature === 'verified' ? 'verified' : 'not checked (no --key)'
      this.note(
        `${plural(report.checkpoints.length, 'checkpoint')}, signatures ${how}; the last covers ${plural(signed.covers, 'line')}, ${report.uncovered} after it`,
      )
    } else this.note('no checkpoint: a rewrite of the whole file would go unseen (ferry ledger checkpoint)')
    return report
  }
}
