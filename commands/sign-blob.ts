import { writeFile } from 'node:fs/promises'
import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { SIGNING_KEY_HELP, withSigner } from '../cli/signing-key.js'
import { signBlob } from '../src/supply/blob.js'

export default class SignBlob extends FerryCommand<typeof SignBlob> {
  static override summary = 'Sign a file: a detached signature in cosign’s sign-blob format.'
  static override description =
    'ECDSA P-256 over SHA-256 of the file’s exact bytes, ASN.1 DER, standard base64: what `cosign sign-blob ' +
    '--key` writes. The signature goes to standard output, or to --output-signature. `ferry verify-blob` and ' +
    '`cosign verify-blob` check it with the public key, and so does openssl alone: ' +
    '`openssl dgst -sha256 -verify NAME.pub -signature <(base64 -d FILE.sig) FILE`. A key file signs ' +
    'deterministically: the same file and key always give the same signature. The file is read whole.'
  static override examples = [
    '<%= config.bin %> sign-blob ferry-linux-x64 --key release.key --output-signature ferry-linux-x64.sig',
    '<%= config.bin %> sign-blob SHA256SUMS --key release.key > SHA256SUMS.sig',
    "<%= config.bin %> sign-blob evidence.tar --key 'pkcs11:token=release;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/hsm-pin'",
  ]
  static override args = { file: Args.string({ required: true, description: 'The file to sign.' }) }
  static override flags = {
    key: Flags.string({ required: true, description: SIGNING_KEY_HELP }),
    'output-signature': Flags.string({
      description:
        'Write the base64 signature to this file (replaced if it exists) instead of standard output.',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    digest: 'string',
    signature: 'string',
    'outputSignature?': 'string',
  }

  async run() {
    const signed = await withSigner(
      this.flags.key,
      (l) => this.note(l),
      (signer) => signBlob(this.args.file, signer),
    )
    const output = this.flags['output-signature']
    if (output) {
      await writeFile(output, signed.signature)
      this.note(`Signed ${this.args.file} (${signed.digest}): ${output}`)
    } else {
      this.out(signed.signature)
    }
    return { file: this.args.file, ...signed, ...(output ? { outputSignature: output } : {}) }
  }
}
