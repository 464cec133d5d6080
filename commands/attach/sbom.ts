import { basename } from 'node:path'
import { Flags } from '@oclif/core'
import { writableImageArg } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { signResultShape } from '../../cli/json-shapes.js'
import { signatureLines } from '../../cli/signature-lines.js'
import { SIGNING_KEY_HELP, signingKeyFlag, withSigner } from '../../cli/signing-key.js'
import { parseReference } from '../../src/reference/index.js'
import { attachSbom, cosignDockerReference, readInputFile } from '../../src/supply/index.js'
import { openTarget } from '../../src/targets/open.js'

export default class AttachSbom extends FerryCommand<typeof AttachSbom> {
  static override summary = 'Attach an SPDX or CycloneDX JSON SBOM to an image as an OCI 1.1 referrer.'
  static override description =
    'The format is read from the content (SPDX JSON: spdxVersion; CycloneDX JSON: bomFormat); --format only ' +
    'states what you expect, and a mismatch is an error. The referrer’s artifactType and layer type are the ' +
    'IANA media type (application/spdx+json, application/vnd.cyclonedx+json). On registries without the ' +
    'referrers API the sha256-<hex> tag index is kept up to date.\n\n' +
    'Prints the SBOM referrer as REPO@DIGEST. Sign it so that `ferry verify --require-sbom` accepts it: with ' +
    '--key here (a key file or a pkcs11: URI; a classic signature, as `ferry sign REPO@DIGEST --key …` writes), ' +
    'or later with `ferry sign REPO@DIGEST --key …`.'
  static override examples = [
    '<%= config.bin %> attach sbom registry.intra/acme/web:v1.4.2 --file sbom.spdx.json',
    '<%= config.bin %> attach sbom oci:./export:web --file bom.json --format cyclonedx --json',
    '<%= config.bin %> attach sbom registry.intra/acme/web:v1.4.2 --file sbom.spdx.json --key release.key',
  ]
  static override args = { image: writableImageArg() }
  static override flags = {
    file: Flags.string({ char: 'f', description: 'The SBOM file (JSON).', required: true }),
    format: Flags.option({
      options: ['spdx', 'cyclonedx'] as const,
      description: 'The expected format; refused when the content is the other one.',
    })(),
    key: signingKeyFlag({ description: `Sign the SBOM referrer with this key. ${SIGNING_KEY_HELP}` }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    name: 'string',
    reference: 'string',
    subject: 'string',
    digest: 'string',
    artifactType: 'string',
    layer: { mediaType: 'string', digest: 'string', size: 'number' },
    'signature?': signResultShape,
    format: '"spdx" | "cyclonedx"',
  }

  async run() {
    const bytes = await readInputFile(this.flags.file, 'SBOM')
    const ref = parseReference(this.args.image)
    return withSigner(
      this.flags.key,
      (l) => this.note(l),
      async (key) => {
        const { target, reference } = await openTarget(this.context, ref)
        try {
          const result = await attachSbom({
            target,
            reference,
            bytes,
            format: this.flags.format,
            title: basename(this.flags.file),
            key,
            dockerReference: cosignDockerReference(ref),
          })
          this.out(`${result.name}@${result.digest}`)
          this.note(
            `attached ${result.format} SBOM (${result.artifactType}) to ${result.name}@${result.subject}`,
          )
          if (result.signature) for (const line of signatureLines(result.signature)) this.note(line)
          return result
        } finally {
          await target.close()
        }
      },
    )
  }
}
