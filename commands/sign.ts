import { Flags } from '@oclif/core'
import { imageArg, repeatable } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import { plural } from '../cli/format.js'
import type { JsonShape } from '../cli/json-shape.js'
import { keyPassword, readSecretFromStdin } from '../cli/prompt.js'
import { FerryError } from '../src/errors.js'
import { formatRepository, parseReference, type Reference } from '../src/reference/index.js'
import { loadSigningKey, parseKeyValues, type SignImageResult, signImage } from '../src/supply/index.js'
import { openTarget } from '../src/targets/open.js'

export default class Sign extends FerryCommand<typeof Sign> {
  static override summary = 'Sign an image by digest, in cosign’s formats.'
  static override description =
    'Resolves IMAGE to its digest first and signs that digest, so the signature never follows a tag that moves. ' +
    'classic (default) adds a layer to cosign’s sha256-<hex>.sig image (read by cosign v2 and v3); bundle pushes ' +
    'a Sigstore v0.3 bundle as an OCI 1.1 referrer (cosign v3’s format); both writes both. Signing again with the ' +
    'same key and annotations adds nothing.\n\n' +
    'The key password comes from FERRY_PASSWORD, else COSIGN_PASSWORD, else a prompt. Sign an SBOM or any other ' +
    'attached artifact the same way, by its digest.\n\n' +
    'Keyless signing (--fulcio-url, --rekor-url, --identity-token) is online only: Fulcio issues a short-lived ' +
    'certificate for the token’s identity and Rekor logs the signature; it writes the bundle format. ' +
    '--identity-token - reads the token from standard input.'
  static override examples = [
    '<%= config.bin %> sign registry.intra/acme/web:v1.4.2 --key cosign.key',
    '<%= config.bin %> sign registry.intra/acme/web@sha256:… --key cosign.key --format both -a release=v1.4.2',
    '<%= config.bin %> sign registry.intra/acme/web@sha256:<sbom digest> --key cosign.key',
    '<%= config.bin %> sign oci:./export:web --key cosign.key --json',
    '<%= config.bin %> sign reg.local/app:1 --fulcio-url https://fulcio.intra --rekor-url https://rekor.intra --identity-token - < token',
  ]
  static override args = { image: imageArg() }
  static override flags = {
    key: Flags.string({ description: 'cosign private key file (NAME.key).', exclusive: ['fulcio-url'] }),
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
  static jsonOutput: JsonShape = {
    name: 'string',
    reference: 'string',
    digest: 'string',
    'classic?': {
      tag: 'string',
      manifest: 'string',
      payload: 'string',
      skipped: 'boolean',
      signatures: 'number',
    },
    'bundle?': { manifest: 'string', bundle: 'string', keyless: 'boolean' },
  }

  async run() {
    const ref = parseReference(this.args.image)
    const keyless = this.flags['fulcio-url'] !== undefined
    if (!keyless && !this.flags.key) {
      throw new FerryError(
        'USAGE',
        'pass --key NAME.key, or --fulcio-url, --rekor-url and --identity-token to sign keyless',
      )
    }
    const key = this.flags.key ? await loadSigningKey(this.flags.key, await keyPassword()) : undefined
    const token =
      this.flags['identity-token'] === '-' ? await readSecretFromStdin() : this.flags['identity-token']
    const { target, reference } = await openTarget(ref, this.registryOptions)
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
        dockerReference: dockerReference(ref) ?? target.name,
      })
      this.out(result.digest)
      for (const line of describe(result)) this.note(line)
      return result
    } finally {
      await target.close()
    }
  }
}

/** What cosign writes as the payload's docker-reference: the repository, Docker Hub as index.docker.io. */
function dockerReference(ref: Reference): string | undefined {
  if (ref.kind !== 'registry') return undefined
  return ref.registry === 'docker.io' ? `index.docker.io/${ref.repository}` : formatRepository(ref)
}

function describe(r: SignImageResult): string[] {
  const lines: string[] = []
  if (r.classic) {
    lines.push(
      r.classic.skipped
        ? `classic: an equivalent signature is already in ${r.name}:${r.classic.tag}`
        : `classic: signed ${r.digest}, ${r.name}:${r.classic.tag} now holds ${plural(r.classic.signatures, 'signature')}`,
    )
  }
  if (r.bundle) {
    lines.push(
      `bundle: signed ${r.digest}${r.bundle.keyless ? ' keyless' : ''}, referrer ${r.name}@${r.bundle.manifest}`,
    )
  }
  return lines
}
