import { Flags } from '@oclif/core'
import { imageArg, platformFlag } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import { formatBytes, table } from '../cli/format.js'
import type { JsonShape } from '../cli/json-shape.js'
import { descriptorShape, stringMap } from '../cli/json-shapes.js'
import { type InspectResult, inspectImage } from '../src/inspect.js'
import { parsePlatform } from '../src/oci/platform.js'
import { nameWithReference } from '../src/reference/index.js'
import { openSource } from '../src/targets/open.js'

export default class Inspect extends FerryCommand<typeof Inspect> {
  static override summary = 'Show an image or index: digest, platforms, layers, labels.'
  static override description =
    'Reads the manifest (and for an image its config) from a registry or an OCI layout directory. ' +
    '--raw prints the manifest exactly as stored, byte for byte.'
  static override examples = [
    '<%= config.bin %> inspect docker.io/library/postgres:16',
    '<%= config.bin %> inspect reg.local:5000/cache/postgres:16 --platform linux/arm64',
    '<%= config.bin %> inspect oci:./layout:1.0 --raw | sha256sum',
    '<%= config.bin %> inspect 127.0.0.1:5000/app@sha256:… --json',
  ]
  static override registryArgs = { image: 'reference' } as const
  static override args = { image: imageArg() }
  static override flags = {
    raw: Flags.boolean({ description: 'Print the manifest bytes exactly as stored.', exclusive: ['json'] }),
    platform: platformFlag,
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    name: 'string',
    reference: 'string',
    digest: 'string',
    mediaType: 'string',
    size: 'number',
    'manifests?': [{ ...descriptorShape, 'platformName?': 'string' }],
    'config?': descriptorShape,
    'layers?': [descriptorShape],
    'totalSize?': 'number',
    'platform?': 'string',
    'created?': 'string',
    'labels?': stringMap,
    'artifactType?': 'string',
  }

  async run() {
    const { target, reference } = await openSource(this.context, this.location('image'))
    try {
      const platform = this.flags.platform ? parsePlatform(this.flags.platform) : undefined
      const result = await inspectImage(target, reference, { platform })
      if (this.flags.raw) {
        process.stdout.write(result.raw)
        return
      }
      this.out(render(result))
      const { raw: _raw, ...json } = result
      return json
    } finally {
      await target.close()
    }
  }
}

function render(r: InspectResult): string {
  const lines = [
    nameWithReference(r.name, r.reference),
    `  digest     ${r.digest}`,
    `  mediaType  ${r.mediaType}`,
  ]
  if (r.manifests) {
    lines.push(`  manifests  ${r.manifests.length}`)
    const rows = r.manifests.map((d) => [
      `    ${d.platformName ?? d.artifactType ?? '-'}`,
      d.digest,
      formatBytes(d.size),
    ])
    lines.push(table(rows))
    return lines.join('\n')
  }
  if (r.artifactType) lines.push(`  artifact   ${r.artifactType}`)
  if (r.platform) lines.push(`  platform   ${r.platform}`)
  if (r.created) lines.push(`  created    ${r.created}`)
  lines.push(`  config     ${r.config?.digest} (${r.config?.mediaType})`)
  lines.push(`  layers     ${r.layers?.length} (${formatBytes(r.totalSize ?? 0)} in all)`)
  for (const l of r.layers ?? []) lines.push(`    ${l.digest}  ${formatBytes(l.size)}  ${l.mediaType}`)
  const labels = Object.entries(r.labels ?? {})
  if (labels.length) {
    lines.push('  labels')
    for (const [k, v] of labels) lines.push(`    ${k}=${v}`)
  }
  return lines.join('\n')
}
