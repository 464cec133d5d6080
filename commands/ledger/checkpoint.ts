import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import { plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { SIGNING_KEY_HELP, withSigner } from '../../cli/signing-key.js'
import { checkpointLedger } from '../../src/ledger/index.js'

export default class LedgerCheckpoint extends FerryCommand<typeof LedgerCheckpoint> {
  static override summary = 'Sign the ledger’s head: append a checkpoint record.'
  static override description =
    'Appends a record holding the chain’s head (the sha256 of the last line) and the number of lines it ' +
    'covers, signed with --key (ECDSA P-256: a cosign key file, the password from FERRY_PASSWORD or ' +
    'COSIGN_PASSWORD, else asked on the terminal; or a key in a PKCS#11 token, a pkcs11: URI). `ferry ledger verify --key NAME.pub` then detects any change ' +
    'to or removal of the lines it covers, even one that rewrote the whole chain. The signature is over the ' +
    'text "ferry-ledger-checkpoint v1 HEAD COVERS" (ECDSA over SHA-256, DER, base64). A broken chain is not ' +
    'signed (exit 5). Run it after each release, or from cron.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { head: 'string', covers: 'number', key: 'string' }

  static override examples = [
    '<%= config.bin %> ledger checkpoint promotions.jsonl --key ledger.key',
    "<%= config.bin %> ledger checkpoint promotions.jsonl --key 'pkcs11:token=audit;object=ledger?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/hsm-pin'",
  ]
  static override args = { file: Args.string({ required: true, description: 'The ledger (JSON Lines).' }) }
  static override flags = {
    key: Flags.string({ required: true, description: `The key to sign the head with. ${SIGNING_KEY_HELP}` }),
  }

  async run() {
    return withSigner(
      this.flags.key,
      (l) => this.note(l),
      async (key) => {
        const signed = await checkpointLedger(this.args.file, key)
        this.out(`${this.args.file}: checkpoint over ${plural(signed.covers, 'line')}, head ${signed.head}`)
        return signed
      },
    )
  }
}
