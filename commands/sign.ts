import { Flags } from '@oclif/core'
import { repeatable, writableImageArg } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { signResultShape } from '../cli/json-shapes.js'
import { readSecretFromStdin } from '../cli/prompt.js'
import { signatureLines } from '../cli/signature-lines.js'
import { signingKeyFlag, withSigner } from '../cli/signing-key.js'
import { FerryError } from '../src/errors.js'
import { parseReference } from '../src/reference/index.js'
import { cosignDockerReference, parseKeyValues, signImage } from '../src/supply/index.js'
import { openTarget } from '../src/targets/open.js'

export default class Sign extends FerryCommand<typeof Sign> {
  static override summary = 'Sign an image by digest, in cosign’s formats.'
  static override description =
    'Resolves IMAGE to its digest first and signs that digest, so the signature never follows a tag that moves. ' +
    'classic (default) adds a layer to cosign’s sha256-<hex>.sig image (read by cosign v2 and v3); bundle pushes ' +
    'a Sigstore v0.3 bundle as an OCI 1.1 referrer (cosign v3’s format); both writes both. Signing again with the ' +
    'same key and annotations adds nothing.\n\n' +
    'The key password comes from FERRY_PASSWORD, else COSIGN_PASSWORD, else a prompt. --key may also be a ' +
    'PKCS#11 URI (RFC 7512, as cosign takes it): the key stays in the token (an HSM, a smart card, SoftHSM), the ' +
    'PIN comes from the URI’s pin-source file, else FERRY_PKCS11_PIN, else a prompt. Sign an SBOM or any other ' +
    'attached artifact the same way, by its digest.\n\n' +
    'Keyless signing (--fulcio-url, --rekor-url, --identity-token) is online only: Fulcio issues a short-lived ' +
    'certificate for the token’s identity and Rekor logs the signature; it writes the bundle format. ' +
    '--identity-token - reads the token from standard input.'
  static override examples = [
    '<%= config.bin %> sign registry.intra/acme/web:v1.4.2 --key cosign.key',
    '<%= config.bin %> sign registry.intra/acme/web@sha256:… --key cosign.key --format both -a release=v1.4.2',
    '<%= config.bin %> sign registry.intra/acme/web@sha256:<sbom digest> --key cosign.key',
    '<%= config.bin %> sign oci:./export:web --key cosign.key --json',
    "<%= config.bin %> sign registry.intra/acme/web:v1.4.2 --key 'pkcs11:token=release;object=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/hsm-pin'",
    '<%= config.bin %> sign reg.local/app:1 --fulcio-url https://fulcio.intra --rekor-url https://rekor.intra --identity-token - < token',
  ]
  static override args = { image: writableImageArg() }
  static override flags = {
    key: signingKeyFlag({ exclusive: ['fulcio-url'] }),
    format: Flags.option({
      options: ['classic', 'bundle', 'both'] as const,
      description: 'Signature format. Default classic with --key, bundle keyless.',
    })(),
    annotation: Flags.string({
      char: 'a',
      description: 'KEY=VALUE recorded in the signed payload; verify -a can require it. Repeatable.',
      ...repeatable,
    }),
    'fulcio-url': Flags.string({
      description: 'Keyless: Fulcio base URL.',
      dependsOn: ['rekor-url', 'identity-token'],
    }),
    'rekor-url': Flags.string({ description: 'Keyless: Rekor base URL.', dependsOn: ['fulcio-url'] }),
    'identity-token': Flags.string({
      description: 'Keyless: OIDC identity token, or - to read it from standard input.',
      dependsOn: ['fulcio-url'],
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = signResultShape

  async run() {
    const ref = parseReference(this.args.image)
    const keyless = this.flags['fulcio-url'] !== undefined
    if (!keyless && !this.flags.key) {
      throw new FerryError(
        'USAGE',
        'pass --key NAME.key, or --fulcio-url, --rekor-url and --identity-token to sign keyless',
      )
    }
    const token =
      this.flags['identity-token'] === '-' ? await readSecretFromStdin() : this.flags['identity-token']
    return withSigner(
      this.flags.key,
      (l) => this.note(l),
      async (key) => {
        const { target, reference } = await openTarget(this.context, ref)
        try {
          const result = await signImage({
            target,
            reference,
            key,
            fulcioURL: this.flags['fulcio-url'],
            rekorURL: this.flags['rekor-url'],
            identityToken: token,
            format: this.flags.format,
            annotations: parseKeyValues(this.flags.annotation),
            dockerReference: cosignDockerReference(ref) ?? target.name,
          })
          this.out(result.digest)
          for (const line of signatureLines(result)) this.note(line)
          return result
        } finally {
          await target.close()
        }
      },
    )
  }
}
