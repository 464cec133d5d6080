import { Args, Flags } from '@oclif/core'
import { repeatable, stripComponentsFlag } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import { formatBytes, plural, table } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { blobCountsShape, signatureKeyShape, signatureStateType } from '../../cli/json-shapes.js'
import { commandGovernance, governanceFlags } from '../../cli/policy-flags.js'
import { flagKeySet, revokedFlag } from '../../cli/trust-flags.js'
import { IMPORT_CHUNK_SIZE, importBundle } from '../../src/bundle/import.js'
import { describeOrder } from '../../src/bundle/import-record.js'
import { loadMappingFile } from '../../src/bundle/mapping.js'
import { writeMappingFile } from '../../src/bundle/mapping-out.js'
import { DEFAULT_CONCURRENCY } from '../../src/copy/copy.js'
import { keyName } from '../../src/sign/trust.js'

export default class BundleImport extends FerryCommand<typeof BundleImport> {
  static override summary = 'Verify a bundle, then push its images into a registry or layout by digest.'
  static override description =
    'Nothing is written before the whole bundle has verified (every blob, the layout, the metadata, the signature ' +
    'with --key) and, for a delta, before the destination is found to hold every blob the bundle leaves out: ' +
    'otherwise the import stops and lists them. Images are copied byte for byte with everything attached; blobs ' +
    'the destination has are skipped, so an interrupted import simply runs again.\n\n' +
    'Where images go, first rule that applies (examples with --to reg.local:5000/cache):\n' +
    '1. --mapping FILE.yaml, lines of SOURCE-REPOSITORY: PATH, e.g. "docker.io/library/postgres: db/postgres": ' +
    'docker.io/library/postgres:16 → reg.local:5000/cache/db/postgres:16.\n' +
    '2. The spec’s destination hint (destination: apps/mini-api): ghcr.io/example/mini-api:1.0 → ' +
    'reg.local:5000/cache/apps/mini-api:1.0.\n' +
    '3. --to + the source path without its registry: docker.io/library/postgres:16 → ' +
    'reg.local:5000/cache/library/postgres:16; with --strip-components 1 → reg.local:5000/cache/postgres:16.\n' +
    'With --to oci:DIR the path names the layout’s repository view (ref.name PATH:TAG).\n\n' +
    'Rollback: ferry records what each import set every tag to, and from which bundle ' +
    '($XDG_STATE_HOME/ferry/bundle-imports.json). A bundle older than the one whose image a tag still holds ' +
    '(a lower --sequence for the same bundle name, else an earlier created time) is refused before anything ' +
    'is written (POLICY_VIOLATION, exit 7), naming the tag and both bundles; --allow-downgrade moves the tags ' +
    'back and lists them. Re-importing the same bundle is fine. Only a signed bundle imported with --key gives ' +
    'an order to trust: an unsigned one can claim any sequence.\n\n' +
    'Policy: --policy FILE, else $FERRY_POLICY, else ./ferry.policy.yaml when it exists (--no-policy applies none ' +
    'and says so). Every image is judged by the environments its destination matches before anything is ' +
    'written: naming, forbidden tags, the SemVer rule, immutability and the required labels; one refused image ' +
    'refuses the import (exit 7, one line naming the rule, the environment and both digests where a tag would ' +
    'move). --ledger FILE appends one record per image imported or refused.\n\n' +
    'Keys: --key is repeatable (the bundle may be signed with any of them). A bundle signed with a key given to ' +
    '--revoked, or revoked by the policy’s trust block, is refused naming the key, and so is one signed with a ' +
    'key the policy lists with a notBefore/notAfter window that does not hold now.\n\n' +
    'Prints source → destination and the digest to deploy by; --mapping-out writes the same as JSON.'
  static override examples = [
    '<%= config.bin %> bundle import mini-api-1.0.tar --to reg.local:5000/cache --key release.pub',
    '<%= config.bin %> bundle import mini-api-1.0.tar --to reg.local:5000 --strip-components 1 --mapping-out images.json',
    '<%= config.bin %> bundle import site.tar.parts.json --to reg.local:5000/cache --mapping mapping.yaml',
    '<%= config.bin %> bundle import mini-api-1.0.tar --to oci:./site',
    '<%= config.bin %> bundle import mini-api-1.1.tar --to reg.local:5000/cache --key release.pub --allow-downgrade',
  ]
  static override args = {
    file: Args.string({ required: true, description: 'Bundle (FILE.tar, FILE.000 or FILE.parts.json).' }),
  }
  static override flags = {
    ...governanceFlags,
    to: Flags.string({
      required: true,
      description:
        'Destination: HOST[:PORT], HOST[:PORT]/PREFIX (https:// or http:// in front too) or oci:DIR.',
    }),
    key: Flags.string({
      description:
        'Require the bundle signature to verify with this public key (NAME.pub), or one of them. Repeatable.',
      ...repeatable,
    }),
    revoked: revokedFlag({ dependsOn: ['key'] }),
    'allow-downgrade': Flags.boolean({
      description: 'Import a bundle older than the one that set a tag, moving the tag back.',
    }),
    'strip-components': stripComponentsFlag,
    mapping: Flags.string({ description: 'YAML map of source repository → path under --to.' }),
    'mapping-out': Flags.string({
      description: 'Write source → destination and digest as JSON to this file.',
    }),
    concurrency: Flags.integer({
      description: 'Blobs in flight at once.',
      default: DEFAULT_CONCURRENCY,
      min: 1,
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    name: 'string',
    version: 'string',
    'sequence?': 'number',
    created: 'string',
    to: 'string',
    signature: signatureStateType,
    'signer?': signatureKeyShape,
    images: [
      {
        source: 'string',
        destination: 'string',
        digest: 'string',
        pinned: 'string',
        blobs: blobCountsShape,
        manifestsPushed: 'number',
        referrers: 'number',
        bytes: 'number',
      },
    ],
    downgraded: [
      {
        destination: 'string',
        from: 'string',
        to: 'string',
        previous: { name: 'string', version: 'string', 'sequence?': 'number', created: 'string' },
      },
    ],
    bytes: 'number',
    durationMs: 'number',
  }

  /** Smaller upload chunks than a copy's: see IMPORT_CHUNK_SIZE. */
  protected override contextSettings() {
    return { chunkSize: IMPORT_CHUNK_SIZE }
  }

  async run() {
    const { flags } = this
    const mapping = flags.mapping ? await loadMappingFile(flags.mapping) : undefined
    const governance = await commandGovernance(flags, (line) => this.note(line), this.config.version)
    // The policy that governs the import judges its keys too: its revocations and key windows.
    const keys = flags.key?.length
      ? await flagKeySet({ key: flags.key, revoked: flags.revoked }, governance.policy)
      : undefined
    const result = await importBundle(this.context, this.args.file, {
      to: flags.to,
      keys,
      allowDowngrade: flags['allow-downgrade'],
      mapping,
      stripComponents: flags['strip-components'],
      concurrency: flags.concurrency,
      governance,
    })
    if (flags['mapping-out']) await writeMappingFile(flags['mapping-out'], result)
    this.out(table(result.images.map((i) => [i.source, '→', i.destination, i.digest])))
    for (const d of result.downgraded)
      this.note(
        `downgraded ${d.destination}: ${d.from} → ${d.to} (it held bundle ${describeOrder(d.previous)}; --allow-downgrade)`,
      )
    const copied = result.images.reduce((n, i) => n + i.blobs.copied, 0)
    const skipped = result.images.reduce((n, i) => n + i.blobs.skipped, 0)
    this.note(
      `${result.name} ${result.version}: ${plural(result.images.length, 'image')} imported; ${plural(copied, 'blob')} copied (${formatBytes(result.bytes)}), ` +
        `${skipped} already there${result.signer ? `; bundle signature verified with ${keyName(result.signer)}` : ''} in ${(result.durationMs / 1000).toFixed(1)}s`,
    )
    return result
  }
}
