import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import { plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { keyPassword } from '../../cli/prompt.js'
import { checkpointLedger } from '../../src/ledger/index.js'

export default class LedgerCheckpoint extends FerryCommand<typeof LedgerCheckpoint> {
  static override summary = 'Sign the ledger’s head: append a checkpoint record.'
  static override description =
    'Appends a record holding the chain’s head (the sha256 of the last line) and the number of lines it ' +
    'covers, signed with --key (a cosign key file, ECDSA P-256; the password from FERRY_PASSWORD or ' +
    'COSIGN_PASSWORD, else asked on the terminal). `ferry ledger verify --key NAME.pub` then detects any change ' +
    'to or removal of the lines it covers, even one that rewrote the whole chain. The signature is over the ' +
    'text "ferry-ledger-checkpoint v1 HEAD COVERS" (ECDSA over SHA-256, DER, base64). A broken chain is not ' +
    'signed (exit 5). Run it after each release, or from cron.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { head: 'string', covers: 'number', key: 'string' }

  static override examples = ['<%= config.bin %> ledger checkpoint promotions.jsonl --key ledger.key']
  static override args = { file: Args.string({ required: true, description: 'The ledger (JSON Lines).' }) }
  static override flags = {
    key: Flags.string({ required: true, description: 'Private key (NAME.key) to sign the head with.' }),
  }

  async run() {
    const { loadSigningKey } = await import('../../src/supply/key-files.js')
    const key = await loadSigningKey(this.flags.key, await keyPassword())
    const signed = await checkpointLedger(this.args.file, key)
    this.out(`${this.args.file}: checkpoint over ${plural(signed.covers, 'line')}, head ${signed.head}`)
    return signed
  }
}
