import { imageArg } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { openSource } from '../src/targets/open.js'

export default class Digest extends FerryCommand<typeof Digest> {
  static override summary = 'Print the digest an image reference resolves to.'
  static override description =
    'Uses a HEAD request on registries (it does not count against Docker Hub pull limits).'
  static override examples = [
    '<%= config.bin %> digest docker.io/library/python:3.12-slim',
    '<%= config.bin %> digest oci:./layout:1.0',
  ]
  static override registryArgs = { image: 'reference' } as const
  static override args = { image: imageArg() }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { digest: 'string', mediaType: 'string', size: 'number' }

  async run() {
    const { target, reference } = await openSource(this.context, this.location('image'))
    try {
      const desc = await target.resolve(reference)
      this.out(desc.digest)
      return { digest: desc.digest, mediaType: desc.mediaType, size: desc.size }
    } finally {
      await target.close()
    }
  }
}
