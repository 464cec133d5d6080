import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { verifyBlob } from '../src/supply/blob.js'
import { loadPublicKey } from '../src/supply/key-files.js'

export default class VerifyBlob extends FerryCommand<typeof VerifyBlob> {
  static override summary =
    'Verify a file’s detached signature (cosign’s sign-blob format) with a public key.'
  static override description =
    'Checks that --signature (a file holding the base64 signature `ferry sign-blob` or `cosign sign-blob` ' +
    'wrote) is a signature of the file’s exact bytes by the key’s owner. Offline: nothing but the two files and ' +
    'the public key. Exit 0 when it verifies; otherwise one line naming both files and exit 5.'
  static override examples = [
    '<%= config.bin %> verify-blob ferry-linux-x64 --key release.pub --signature ferry-linux-x64.sig',
    '<%= config.bin %> verify-blob SHA256SUMS --key release.pub --signature SHA256SUMS.sig && sha256sum -c SHA256SUMS',
  ]
  static override args = {
    file: Args.string({ required: true, description: 'The file the signature is of.' }),
  }
  static override flags = {
    key: Flags.string({ description: 'The signer’s public key (NAME.pub).', required: true }),
    signature: Flags.string({ description: 'The signature file (base64).', required: true }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    digest: 'string',
    signature: 'string',
    verified: 'boolean',
  }

  async run() {
    const publicKey = await loadPublicKey(this.flags.key)
    const checked = await verifyBlob(this.args.file, this.flags.signature, publicKey)
    this.out(`Verified OK: ${this.args.file} (${checked.digest})`)
    return { file: this.args.file, ...checked, verified: true }
  }
}
