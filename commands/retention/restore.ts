import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import { plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { commandGovernance, governanceFlags } from '../../cli/policy-flags.js'
import { exitCodeFor, FerryError } from '../../src/errors.js'
import { restoreRetention } from '../../src/retention/index.js'

export default class RetentionRestore extends FerryCommand<typeof RetentionRestore> {
  static override summary = 'Re-push what a retention apply removed, from its backup.'
  static override description =
    'Pushes the backup’s manifests (children before their index, subjects before their referrers, with the SBOM, ' +
    'signature and attestation blobs the backup holds) and then its tags, into the repositories they came from or, ' +
    'for a backup of one repository, into --to. Image layers are not in the backup: this works until the registry’s ' +
    'garbage collection has removed them; after that the registry refuses the manifest and the error says so.\n\n' +
    'A tag is put back where it is absent, or where it names ferry’s untag placeholder (an untag a killed run left ' +
    'half done). A tag that names another digest was re-used since the apply: it is left as it is and reported as a ' +
    'conflict, one line each naming the tag, what it names now and what the backup has, and restore exits 7 ' +
    '(POLICY_VIOLATION) after restoring everything else. --force moves such tags back too and reports each one.\n\n' +
    'Policy: --policy FILE, else $FERRY_POLICY, else ./ferry.policy.yaml when it exists (--no-policy applies none ' +
    'and says so). Every tag to put back is judged before anything is pushed by the name rules of its ' +
    'environment (naming, forbidden tags, SemVer, immutability: --force never moves an immutable tag); a refusal ' +
    'leaves the repository untouched (exit 7). --ledger FILE appends one record per tag restored or refused.'
  /** The --json document, shown in --help and checked by test/retention/cli.test.ts. */
  static jsonOutput: JsonShape = {
    repositories: [
      {
        repository: 'string',
        manifests: 'number',
        blobs: 'number',
        tags: 'number',
        conflicts: [{ tag: 'string', backup: 'string', current: 'string' }],
        moved: [{ tag: 'string', from: 'string', to: 'string' }],
      },
    ],
  }
  static override examples = [
    '<%= config.bin %> retention restore ~/.local/state/ferry/retention/backups/2026-12-01T03-00-00-000Z',
    '<%= config.bin %> retention restore /backups/retention-2026-12-01 --to registry.intra/acme/shop/web-restored',
    '<%= config.bin %> retention restore /backups/retention-2026-12-01 --force',
  ]
  static override args = {
    backup: Args.string({ required: true, description: 'The backup directory retention apply wrote' }),
  }
  static override flags = {
    ...governanceFlags,
    to: Flags.string({
      description: 'Restore into this repository (HOST/PATH) instead of the original one.',
    }),
    force: Flags.boolean({
      description:
        'Also move back tags re-used since the apply (by default they are left as they are and restore exits 7); each one moved is reported.',
    }),
  }

  async run() {
    const governance = await commandGovernance(this.flags, (line) => this.note(line), this.config.version)
    const result = await restoreRetention(this.context, this.args.backup, {
      governance,
      to: this.flags.to,
      force: this.flags.force,
    })
    let conflicts = 0
    for (const r of result.repositories) {
      this.out(
        `restored ${r.repository}: ${plural(r.manifests, 'manifest')}, ${plural(r.blobs, 'blob')}, ${plural(r.tags, 'tag')}`,
      )
      for (const m of r.moved) this.out(`${r.repository}: moved ${m.tag} from ${m.from} to ${m.to} (--force)`)
      for (const c of r.conflicts) {
        this.note(
          `ferry: ${r.repository}:${c.tag} was re-used since the apply: it names ${c.current}, the backup has ${c.backup}; left as it is`,
        )
      }
      conflicts += r.conflicts.length
    }
    if (conflicts) {
      const failure = new FerryError(
        'POLICY_VIOLATION',
        `${plural(conflicts, 'tag')} re-used since the apply ${conflicts === 1 ? 'was' : 'were'} not restored; --force moves ${conflicts === 1 ? 'it' : 'them'} back`,
      )
      this.note(`ferry: ${failure.message}`)
      process.exitCode = exitCodeFor(failure)
    }
    return result
  }
}
