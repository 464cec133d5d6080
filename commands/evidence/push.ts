import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { FerryError } from '../../src/errors.js'
import { pushEvidence } from '../../src/evidence/push.js'
import { formatRepository, manifestReference, parseReference } from '../../src/reference/index.js'
import { openTarget } from '../../src/targets/open.js'

export default class EvidencePush extends FerryCommand<typeof EvidencePush> {
  static override summary =
    'Store an evidence pack in a registry as an OCI artifact, a referrer of the image it is about.'
  static override description =
    'Verifies the pack, then pushes it as an OCI 1.1 artifact: artifactType application/vnd.ferry.evidence.v1+tar, ' +
    'the empty config, one layer holding the tar as it is, the case in the io.ferry.evidence.case annotation, ' +
    'created = the capture time (pushing the same pack again gives the same manifest), tagged TAG. With --subject ' +
    'IMAGE (in the same repository: referrers are listed per repository) it is a referrer of that image: ' +
    '`ferry referrers IMAGE` lists it, and `copy --referrers`, bundles and retention’s backup carry it with the ' +
    'image. The layer blob is the tar byte for byte, titled with its file name (org.opencontainers.image.title).'
  static override examples = [
    '<%= config.bin %> evidence push case-42.tar registry.intra/forensics/web:case-42 --subject registry.intra/forensics/web@sha256:…',
    '<%= config.bin %> evidence push inc-7.tar registry.intra/evidence/inc-7:2024-05-01',
  ]
  static override registryArgs = { destination: 'reference', subject: 'reference' } as const
  static override args = {
    file: Args.string({ required: true, description: 'The evidence tar.' }),
    destination: Args.string({ required: true, description: 'REGISTRY/REPO:TAG (or oci:DIR:REPO:TAG).' }),
  }
  static override flags = {
    subject: Flags.string({
      description: 'The image the evidence is about (same repository, tag or digest).',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    name: 'string',
    tag: 'string',
    digest: 'string',
    'subject?': 'string',
    artifactType: 'string',
    case: 'string',
    layer: { mediaType: 'string', digest: 'string', size: 'number' },
  }

  async run() {
    const ref = parseReference(this.args.destination)
    if (ref.tag === undefined || ref.digest !== undefined)
      throw new FerryError(
        'USAGE',
        `${this.args.destination}: give the destination as REPO:TAG (a tag, no digest)`,
      )
    let subject: string | undefined
    if (this.flags.subject !== undefined) {
      const s = parseReference(this.flags.subject)
      if (repositoryOf(s) !== repositoryOf(ref)) {
        throw new FerryError(
          'USAGE',
          `--subject ${this.flags.subject} is not in ${repositoryOf(ref)}: a referrer is listed only in its subject’s repository; push to that repository`,
        )
      }
      subject = manifestReference(s)
    }
    const { target } = await openTarget(this.context, ref, { create: true })
    try {
      const result = await pushEvidence(this.args.file, { target, tag: ref.tag, subject })
      this.out(`${result.name}@${result.digest}`)
      this.note(
        `pushed case ${result.case} as ${result.name}:${result.tag}${result.subject ? `, a referrer of ${result.name}@${result.subject}` : ''}`,
      )
      return result
    } finally {
      await target.close()
    }
  }
}

function repositoryOf(ref: ReturnType<typeof parseReference>): string {
  return ref.kind === 'registry' ? formatRepository(ref) : `oci:${ref.path}:${ref.repository ?? ''}`
}
