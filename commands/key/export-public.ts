import { Args } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { cliKeySecrets } from '../../cli/signing-key.js'
import { keyFingerprint, publicKeyPem } from '../../src/sign/index.js'
import { readPublicKeyOf } from '../../src/supply/index.js'

export default class KeyExportPublic extends FerryCommand<typeof KeyExportPublic> {
  static override summary = 'Print the public key of a key pair in a PKCS#11 token, as PEM.'
  static override description =
    'Reads the public key object (or, failing that, the certificate) with the URI’s label and/or id from the ' +
    'token, and prints it as an SPKI `PUBLIC KEY` PEM, the cosign.pub format that `ferry verify --key`, ' +
    '`bundle verify --key`, `ledger verify --key` and policy files take. No PIN is needed for a public object. ' +
    'A PEM public key file is accepted too and printed as ferry writes it.'
  static override examples = [
    "<%= config.bin %> key export-public 'pkcs11:token=release;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so' > release.pub",
    "FERRY_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so <%= config.bin %> key export-public 'pkcs11:token=release;id=%01' --json",
  ]
  static override args = {
    key: Args.string({ required: true, description: 'A pkcs11: URI (or a PUBLIC KEY PEM file).' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { publicKey: 'string', fingerprint: 'string' }

  async run() {
    const key = await readPublicKeyOf(
      this.args.key,
      cliKeySecrets((l) => this.note(l)),
    )
    const pem = publicKeyPem(key)
    if (!this.jsonEnabled()) process.stdout.write(pem)
    return { publicKey: pem, fingerprint: keyFingerprint(key) }
  }
}
