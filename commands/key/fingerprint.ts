import { Args } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { cliKeySecrets } from '../../cli/signing-key.js'
import { keyFingerprint } from '../../src/sign/index.js'
import { readPublicKeyOf } from '../../src/supply/index.js'

export default class KeyFingerprint extends FerryCommand<typeof KeyFingerprint> {
  static override summary = 'Print a public key’s fingerprint: sha256:HEX of its SubjectPublicKeyInfo.'
  static override description =
    'The SHA-256 of the DER SubjectPublicKeyInfo, as `sha256:HEX`: how policy files and evidence name a key, ' +
    'the same whether the private half is in a key file or in a token. Takes a public key file (NAME.pub) or a ' +
    'pkcs11: URI (its public object is read; no PIN needed). The same value as ' +
    '`openssl pkey -pubin -in NAME.pub -outform DER | sha256sum`.'
  static override examples = [
    '<%= config.bin %> key fingerprint release.pub',
    "<%= config.bin %> key fingerprint 'pkcs11:token=release;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so'",
  ]
  static override args = {
    key: Args.string({ required: true, description: 'A public key file (NAME.pub) or a pkcs11: URI.' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { fingerprint: 'string' }

  async run() {
    const fingerprint = keyFingerprint(
      await readPublicKeyOf(
        this.args.key,
        cliKeySecrets((l) => this.note(l)),
      ),
    )
    this.out(fingerprint)
    return { fingerprint }
  }
}
