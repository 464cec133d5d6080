import { Flags } from '@oclif/core'
import { imageArg } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { attachedEntryShape } from '../cli/json-shapes.js'
import { type AttachedEntry, type AttachedTree, listAttached } from '../src/supply/index.js'
import { openSource } from '../src/targets/open.js'

export default class Referrers extends FerryCommand<typeof Referrers> {
  static override summary =
    'Show everything attached to an image: signatures, SBOMs, attestations, in both schemes.'
  static override description =
    'A tree of OCI 1.1 referrers and cosign’s sha256-<hex>.sig/.att/.sbom tags, recursively (a signature on an ' +
    'SBOM shows under the SBOM), and for an index, what is attached to each child. Each entry names how it is ' +
    'attached: referrers-api (the registry’s referrers API), tag-schema (the sha256-<hex> index tag of registries ' +
    'without the API), layout (an OCI layout’s index.json) or cosign-tag.\n\n' +
    '--artifact-type keeps only matching entries directly on the image (and its children), with all that is ' +
    'attached to them.'
  static override examples = [
    '<%= config.bin %> referrers registry.intra/acme/web:v1.4.2',
    '<%= config.bin %> referrers registry.intra/acme/web:v1.4.2 --artifact-type application/spdx+json',
    '<%= config.bin %> referrers oci:./export:web --json',
  ]
  static override registryArgs = { image: 'reference' } as const
  static override args = { image: imageArg() }
  static override flags = {
    'artifact-type': Flags.string({
      description: 'Only attachments of this artifact type (e.g. application/spdx+json).',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    name: 'string',
    reference: 'string',
    digest: 'string',
    mediaType: 'string',
    'platform?': 'string',
    referrersScheme: '"referrers-api" | "tag-schema" | "layout"',
    attached: [attachedEntryShape],
    'manifests?': [
      { digest: 'string', mediaType: 'string', 'platform?': 'string', attached: [attachedEntryShape] },
    ],
  }

  async run() {
    const { target, reference } = await openSource(this.context, this.location('image'))
    try {
      const tree = await listAttached({ target, reference, artifactType: this.flags['artifact-type'] })
      this.out(render(tree))
      return tree
    } finally {
      await target.close()
    }
  }
}

function entryLine(e: AttachedEntry): string {
  const parts = [e.digest, e.artifactType ?? e.mediaType, `[${e.scheme}]`]
  if (e.tag) parts.push(e.tag)
  if (e.missing) parts.push('(listed, manifest missing)')
  return parts.join('  ')
}

function branch(entries: AttachedEntry[], indent: string, lines: string[]): void {
  for (const [i, e] of entries.entries()) {
    const last = i === entries.length - 1
    lines.push(`${indent}${last ? '└── ' : '├── '}${entryLine(e)}`)
    branch(e.children, `${indent}${last ? '    ' : '│   '}`, lines)
  }
}

function render(tree: AttachedTree): string {
  const lines = [`${tree.name}@${tree.digest}  (referrers: ${tree.referrersScheme})`]
  branch(tree.attached, '', lines)
  if (!tree.attached.length) lines.push('    (nothing attached)')
  for (const child of tree.manifests ?? []) {
    lines.push(`${child.platform ?? child.mediaType}  ${child.digest}`)
    branch(child.attached, '', lines)
    if (!child.attached.length) lines.push('    (nothing attached)')
  }
  return lines.join('\n')
}
