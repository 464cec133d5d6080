import { Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import { renderGc } from '../cli/gc-render.js'
import type { JsonShape } from '../cli/json-shape.js'
import { collectGarbage } from '../src/gc/index.js'
import { OciLayout } from '../src/layout/index.js'
import { parseDuration } from '../src/serve/upstream/upstreams.js'

export default class Gc extends FerryCommand<typeof Gc> {
  static override summary =
    'Free the space of what nothing references in an OCI layout (ferry serve’s --root): unreachable manifests and blobs.'
  static override description =
    'Marks everything that index.json reaches: every tag of every repository and every manifest pushed by ' +
    'digest (platform images, referrers, cosign’s sha256-HEX.sig/.att/.sbom tags, the referrers tag schema’s ' +
    'sha256-HEX index), with their index children, configs and layers, recursively, and every manifest whose ' +
    'subject is reached (a referrer no entry names). Then it deletes the files of blobs/ that nothing reaches and ' +
    'that were not written within --grace (default 1h): a client pushes its blobs before the manifest that names ' +
    'them. Upload sessions (ROOT/.uploads) and blobs being written (ROOT/ingest) are never touched. A blob a ' +
    'ferry writer finds present and relies on counts as written then; the final mark and the sweep run holding ' +
    'index.json’s lock, so no tag lands meanwhile. A manifest that cannot be read stops the collection before ' +
    'anything is deleted; one that is missing reaches nothing and is reported.\n\n' +
    'On a root a running `ferry serve` writes to, prefer `ferry serve --gc-interval`: the server also keeps ' +
    'what it just told a client exists. Registries ferry does not run have their own collection, and on ' +
    'distribution 2.x the safe one is `registry garbage-collect CONFIG` without --delete-untagged (docs/retention.md, ' +
    '"Garbage collection that keeps what is needed").\n\n' +
    'Exit 0 when the collection ran (also when it freed nothing).'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    root: 'string',
    dryRun: 'boolean',
    graceMs: 'number',
    reachable: { manifests: 'number', blobs: 'number' },
    freed: [{ digest: 'string', kind: '"manifest" | "blob"', size: 'number', modified: 'string' }],
    summary: { manifests: 'number', blobs: 'number', bytes: 'number' },
    young: 'number',
    missing: ['string'],
  }

  static override examples = [
    {
      description: 'What would go, nothing deleted:',
      command: '<%= config.bin %> gc --root /srv/oci --dry-run',
    },
    '<%= config.bin %> gc --root /srv/oci --grace 24h --json',
    {
      description: 'The same collection inside a running registry, once a day:',
      command: '<%= config.bin %> serve --root /srv/oci --gc-interval 24h',
    },
  ]
  static override flags = {
    root: Flags.string({
      required: true,
      description: 'The OCI image layout directory (ferry serve --root).',
    }),
    'dry-run': Flags.boolean({ description: 'List what would be deleted; delete nothing.' }),
    grace: Flags.string({
      default: '1h',
      description: 'Keep unreachable files written more recently than this (e.g. 30m, 1h, 2d).',
    }),
  }

  async run() {
    const graceMs = parseDuration(this.flags.grace, '--grace')
    const layout = await OciLayout.open(this.flags.root, { logger: this.logger })
    const result = await collectGarbage(layout, { graceMs, dryRun: this.flags['dry-run'] })
    for (const line of renderGc(result, this.flags.grace)) this.out(line)
    return result
  }
}
