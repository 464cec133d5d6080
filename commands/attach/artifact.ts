import { basename } from 'node:path'
import { Flags } from '@oclif/core'
import { repeatable, writableImageArg } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { signResultShape } from '../../cli/json-shapes.js'
import { signatureLines } from '../../cli/signature-lines.js'
import { SIGNING_KEY_HELP, signingKeyFlag, withSigner } from '../../cli/signing-key.js'
import { parseReference } from '../../src/reference/index.js'
import {
  attachArtifact,
  cosignDockerReference,
  parseKeyValues,
  readInputFile,
} from '../../src/supply/index.js'
import { openTarget } from '../../src/targets/open.js'

export default class AttachArtifact extends FerryCommand<typeof AttachArtifact> {
  static override summary = 'Attach any file to an image as an OCI 1.1 artifact referrer.'
  static override description =
    'One layer holding the file (media type --media-type, default the artifact type, titled with the file name ' +
    'as oras does), the empty config, and subject = the image’s digest. Annotations go on the manifest, where ' +
    'the referrers API lists them. Prints the referrer as REPO@DIGEST, which `ferry sign` can sign in turn, or ' +
    '--key signs it here (a key file or a pkcs11: URI; a classic signature).'
  static override examples = [
    '<%= config.bin %> attach artifact registry.intra/acme/web:v1.4.2 --artifact-type application/vnd.acme.scan.v1+json --file scan.json',
    '<%= config.bin %> attach artifact reg.local/app:1 --artifact-type application/vnd.acme.release-notes.v1 --file NOTES.md --media-type text/markdown -a org.opencontainers.image.version=1.0',
  ]
  static override args = { image: writableImageArg() }
  static override flags = {
    'artifact-type': Flags.string({
      description: 'The artifact’s media type (type/subtype).',
      required: true,
    }),
    file: Flags.string({ char: 'f', description: 'The content to attach.', required: true }),
    'media-type': Flags.string({ description: 'Media type of the layer. Default: the artifact type.' }),
    annotation: Flags.string({
      char: 'a',
      description: 'KEY=VALUE manifest annotation. Repeatable.',
      ...repeatable,
    }),
    key: signingKeyFlag({ description: `Sign the artifact referrer with this key. ${SIGNING_KEY_HELP}` }),
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
  }

  async run() {
    const bytes = await readInputFile(this.flags.file)
    const annotations = parseKeyValues(this.flags.annotation)
    const ref = parseReference(this.args.image)
    return withSigner(
      this.flags.key,
      (l) => this.note(l),
      async (key) => {
        const { target, reference } = await openTarget(this.context, ref)
        try {
          const result = await attachArtifact({
            target,
            reference,
            artifactType: this.flags['artifact-type'],
            layerMediaType: this.flags['media-type'],
            bytes,
            annotations,
            title: basename(this.flags.file),
            key,
            dockerReference: cosignDockerReference(ref),
          })
          this.out(`${result.name}@${result.digest}`)
          this.note(`attached ${result.artifactType} to ${result.name}@${result.subject}`)
          if (result.signature) for (const line of signatureLines(result.signature)) this.note(line)
          return result
        } finally {
          await target.close()
        }
      },
    )
  }
}
