import { Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { promptSecret } from '../../cli/prompt.js'
import { cliKeySecrets } from '../../cli/signing-key.js'
import { FerryError } from '../../src/errors.js'
import { keyFingerprint, passwordFromEnv } from '../../src/sign/index.js'
import { DEFAULT_KEY_PREFIX, writeKeyPair, writeTokenKeyPair } from '../../src/supply/index.js'

export default class KeyGenerate extends FerryCommand<typeof KeyGenerate> {
  static override summary = 'Generate a cosign-compatible signing key pair, in files or in a PKCS#11 token.'
  static override description =
    'Writes NAME.key (ECDSA P-256, encrypted with scrypt + secretbox in the cosign envelope, mode 0600) and ' +
    'NAME.pub (SPKI PEM). cosign reads both; ferry reads keys cosign made. Existing files are never overwritten ' +
    'without --force.\n\n' +
    'The password comes from FERRY_PASSWORD, else COSIGN_PASSWORD, else it is asked for twice at the terminal. ' +
    'An empty password is refused unless --allow-empty-password is given.\n\n' +
    '--pkcs11 URI generates the pair inside a PKCS#11 token instead (an HSM, a smart card, SoftHSM): ECDSA P-256, ' +
    'labelled with the URI’s object= and/or id=, stored in the token (CKA_TOKEN), signing only, sensitive and ' +
    'never extractable. Only PREFIX.pub is written. The PIN comes from the URI’s pin-source file, else ' +
    'FERRY_PKCS11_PIN, else a prompt; the module from module-path, else FERRY_PKCS11_MODULE. A token that already ' +
    'holds a key with that label or id is refused.'
  static override examples = [
    '<%= config.bin %> key generate',
    '<%= config.bin %> key generate --output-key-prefix release',
    'FERRY_PASSWORD=… <%= config.bin %> key generate --output-key-prefix ci/signing --json',
    "<%= config.bin %> key generate --pkcs11 'pkcs11:token=release;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/hsm-pin' --output-key-prefix release",
  ]
  static override flags = {
    'output-key-prefix': Flags.string({
      description: 'Path prefix of the files written: PREFIX.key and PREFIX.pub.',
      default: DEFAULT_KEY_PREFIX,
    }),
    force: Flags.boolean({
      description: 'Overwrite existing PREFIX.key and PREFIX.pub (regular files only; a symlink is refused).',
    }),
    'allow-empty-password': Flags.boolean({
      description: 'Accept an empty password (the private key is then only as safe as the file).',
      exclusive: ['pkcs11'],
    }),
    pkcs11: Flags.string({
      description:
        'Generate the pair in the PKCS#11 token this URI names (pkcs11:token=NAME;object=LABEL?module-path=…&pin-source=FILE); writes only PREFIX.pub.',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    'privateKeyPath?': 'string',
    publicKeyPath: 'string',
    'pkcs11?': 'string',
    'fingerprint?': 'string',
  }

  async run() {
    if (this.flags.pkcs11 !== undefined) {
      const made = await writeTokenKeyPair(
        { uri: this.flags.pkcs11, prefix: this.flags['output-key-prefix'], force: this.flags.force },
        cliKeySecrets((l) => this.note(l)),
      )
      const fingerprint = keyFingerprint(made.publicKey)
      this.out(`Private key generated in the token: ${made.key}`)
      this.out(`Public key written to ${made.publicKeyPath} (${fingerprint})`)
      return { publicKeyPath: made.publicKeyPath, pkcs11: made.key, fingerprint }
    }
    const password = await this.newPassword()
    const files = await writeKeyPair({
      prefix: this.flags['output-key-prefix'],
      password,
      force: this.flags.force,
    })
    this.out(`Private key written to ${files.privateKeyPath}`)
    this.out(`Public key written to ${files.publicKeyPath}`)
    return files
  }

  private async newPassword(): Promise<string> {
    let password = passwordFromEnv()
    if (password === undefined) {
      if (!process.stdin.isTTY) {
        throw new FerryError(
          'USAGE',
          'no password for the key: set FERRY_PASSWORD (or COSIGN_PASSWORD), or run in a terminal',
        )
      }
      password = await promptSecret('Enter password for private key: ')
      const again = await promptSecret('Enter password for private key again: ')
      if (again !== password) throw new FerryError('USAGE', 'the passwords do not match')
    }
    if (password === '' && !this.flags['allow-empty-password']) {
      throw new FerryError(
        'USAGE',
        'an empty password leaves the private key unprotected; pass --allow-empty-password to accept that',
      )
    }
    return password
  }
}
