import { Args, Flags } from '@oclif/core'
import { repeatableList } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import { parseCreds } from '../cli/creds.js'
import { formatBytes, plural } from '../cli/format.js'
import type { JsonShape } from '../cli/json-shape.js'
import { blobCountsShape } from '../cli/json-shapes.js'
import { commandGovernance, governanceFlags } from '../cli/policy-flags.js'
import { DEFAULT_CONCURRENCY } from '../src/copy/copy.js'
import { parsePlatform } from '../src/oci/platform.js'
import { copyReference } from '../src/targets/copy-reference.js'

export default class Copy extends FerryCommand<typeof Copy> {
  static override summary = 'Copy an image or multi-arch index by digest, byte for byte.'
  static override description =
    'Any source to any destination: registry or OCI layout directory (oci:DIR[:TAG]). The destination serves ' +
    'the exact manifest bytes and digest of the source. Blobs the destination has are skipped, blobs on the same ' +
    'registry are mounted, the rest stream through with their size and digest verified; the tag is written last.\n\n' +
    'DST without a tag gets the source tag; DST@sha256:… pushes by digest only. SRC:TAG@DIGEST copies DIGEST ' +
    'only when TAG names it too; --digest-wins copies it anyway and says so.\n\n' +
    'The policy file is found as promote and tag find it: --policy FILE, else $FERRY_POLICY, else ' +
    'ferry.policy.yaml in the working directory when it exists; --no-policy applies none and says so on stderr. ' +
    'With a policy, the environments DST matches judge the write once the source is read and before anything ' +
    'is sent: naming, forbidden tags, the SemVer rule, immutability (a tag that names another digest never ' +
    'moves) and the required labels. An enforce-mode failure refuses the copy with DST unchanged (exit 7, one ' +
    'line naming the rule, the environment and, for a tag that would move, both digests); the tag is then ' +
    'written on condition that it still names what was judged. --ledger FILE appends one record per attempt.'
  static override examples = [
    '<%= config.bin %> copy docker.io/library/postgres:16 reg.local:5000/cache/postgres:16',
    '<%= config.bin %> copy reg.local:5000/acme/web:v1.4.2 reg.local:5000/acme/web-prod --referrers',
    '<%= config.bin %> copy docker.io/library/python:3.12-slim oci:./mirror --platform linux/amd64',
    '<%= config.bin %> copy oci:./mirror:3.12-slim 127.0.0.1:5000/python --json',
    'REF=$(<%= config.bin %> copy -q oci:./mirror:3.12-slim 127.0.0.1:5000/python)   # name:tag@sha256:…',
    '<%= config.bin %> copy reg-a:5000/app:1 reg-b:5000/app:1 --src-creds "ci:$A_PW" --dest-creds "ci:$B_PW"',
    '<%= config.bin %> copy reg.local:5000/acme/shop/api:v1.4.2 reg.local:5000/acme/shop/api-prod --policy ferry.policy.yaml --ledger promotions.jsonl',
  ]
  static override registryArgs = { source: 'reference', destination: 'reference' } as const
  static override args = {
    source: Args.string({
      required: true,
      description:
        'REGISTRY/REPO[:TAG][@DIGEST] (https://… too), oci:DIR[[:REPO]:TAG|[:REPO]@DIGEST] or bundle:FILE:IMAGE',
    }),
    destination: Args.string({
      required: true,
      description: 'REGISTRY/REPO[:TAG|@DIGEST] (https://… too) or oci:DIR[[:REPO]:TAG] (never a bundle)',
    }),
  }
  static override flags = {
    ...governanceFlags,
    platform: Flags.string({
      description:
        "Copy only this child of an index: OS/ARCH[/VARIANT]. One platform copies that child's own manifest " +
        '(digest unchanged); two or more make a new index. Repeatable, or comma-separated. An image of another platform is refused.',
      ...repeatableList,
    }),
    referrers: Flags.boolean({
      description: 'Also copy signatures, SBOMs and attestations attached to the image (both schemes).',
    }),
    concurrency: Flags.integer({
      description: 'Blobs in flight at once.',
      default: DEFAULT_CONCURRENCY,
      min: 1,
    }),
    'digest-wins': Flags.boolean({
      description:
        'For SRC:TAG@DIGEST where TAG names another digest: copy DIGEST anyway (default: refuse). Said on stderr.',
    }),
    quiet: Flags.boolean({
      char: 'q',
      description: 'Print only the final line, DST@DIGEST: no progress bars, no summary (as skopeo --quiet).',
      exclusive: ['json'],
    }),
    'include-nondistributable': Flags.boolean({
      description: 'Copy foreign layers instead of keeping them as references.',
    }),
    'src-creds': Flags.string({
      description: 'USER:PASS for the source registry only (before any auth file).',
      exclusive: ['creds', 'creds-stdin'],
    }),
    'dest-creds': Flags.string({
      description: 'USER:PASS for the destination registry only (before any auth file).',
      exclusive: ['creds', 'creds-stdin'],
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    source: { name: 'string', reference: 'string', digest: 'string' },
    destination: { name: 'string', 'tag?': 'string', digest: 'string' },
    filtered: 'boolean',
    platformChild: 'boolean',
    'digestWon?': { tag: 'string', 'tagDigest?': 'string' },
    manifests: { pushed: 'number', skipped: 'number' },
    blobs: { ...blobCountsShape, foreign: 'number' },
    referrers: 'number',
    merged: 'number',
    bytes: 'number',
    durationMs: 'number',
  }

  async run() {
    const source = this.location('source')
    const destination = this.location('destination')
    const own = [
      ['src-creds', source],
      ['dest-creds', destination],
    ] as const
    for (const [flag, location] of own) {
      const value = this.flags[flag]
      const registry = location.kind === 'registry' ? location.registry : undefined
      if (value) this.credsFor(parseCreds(value, `--${flag}`), registry ? [registry] : [], `--${flag}`)
    }
    const governance = await commandGovernance(this.flags, (line) => this.note(line), this.config.version)
    const quiet = this.flags.quiet
    const result = await copyReference(this.context, source, destination, {
      platforms: this.flags.platform?.map(parsePlatform),
      referrers: this.flags.referrers,
      concurrency: this.flags.concurrency,
      includeNondistributable: this.flags['include-nondistributable'],
      digestWins: this.flags['digest-wins'],
      governance,
    })
    if (result.digestWon && !quiet) {
      const { tag, tagDigest } = result.digestWon
      this.note(
        `note: copied ${result.source.digest} as given (--digest-wins); the source tag ${tag} ${tagDigest ? `is ${tagDigest}` : 'does not exist'}`,
      )
    }
    if (quiet) {
      // --quiet: the digest line alone.
    } else if (result.platformChild) {
      this.note(
        `note: copied the platform's own manifest ${result.destination.digest} (source index ${result.source.digest})`,
      )
    } else if (result.filtered) {
      this.note(
        `note: the platform filter made a new index ${result.destination.digest} (source index ${result.source.digest})`,
      )
    }
    const b = result.blobs
    this.out(
      `${result.destination.name}${result.destination.tag ? `:${result.destination.tag}` : ''}@${result.destination.digest}`,
    )
    if (!quiet)
      this.note(
        `copied ${plural(b.copied, 'blob')} (${formatBytes(result.bytes)}), skipped ${b.skipped}, mounted ${b.mounted}; ` +
          `${plural(result.manifests.pushed, 'manifest')} pushed, ${result.manifests.skipped} present` +
          `${result.referrers ? `; ${plural(result.referrers, 'referrer')}` : ''} in ${(result.durationMs / 1000).toFixed(1)}s`,
      )
    return result
  }

  protected override showsProgress(): boolean {
    return super.showsProgress() && !this.flags.quiet
  }
}
