import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import { plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { policyCheckShape } from '../../cli/json-shapes.js'
import { renderImageCheck } from '../../cli/policy-render.js'
import { exitCodeFor, FerryError } from '../../src/errors.js'
import { lastRecordedTags, readLedger, recordedAt, recordedTagKey } from '../../src/ledger/index.js'
import {
  checkImage,
  DEFAULT_POLICY_FILE,
  type ImageCheck,
  loadPolicy,
  summarize,
} from '../../src/policy/index.js'
import { openSubject } from '../../src/targets/subject.js'

export default class PolicyCheck extends FerryCommand<typeof PolicyCheck> {
  static override summary = 'Check images against the policy file: naming, labels, signatures, SBOMs, tags.'
  static override description =
    'Each IMAGE is resolved to its digest and judged by the rules of the first environment of the policy file it ' +
    'matches, plus the global labels rule and the naming rule (the environment’s own `naming` when it has one, ' +
    'else the global one), plus immutable and forbid.tags of every other environment it ' +
    'matches; --environment adds one environment’s rules (what would prod ask of this image?), never removes ' +
    'any. One row per image and rule, naming its environment: pass, FAIL, ' +
    'warn (a failure in a warn-mode environment) or skip (the rule does not apply, e.g. a tag rule for an image ' +
    'given by digest), each with its evidence. Signatures and SBOMs are verified offline with the keys the policy ' +
    'names, in both signature schemes.\n\n' +
    'Keys: an entry of require.signature.keys is a path or { path, notBefore, notAfter } (RFC 3339 with a zone): ' +
    'its signatures count only while now is inside that window, and one made with an expired key fails with the ' +
    'notAfter in the message. trust.revoked lists keys (public key files or sha256: fingerprints, as ferry key ' +
    'fingerprint prints them) whose signatures never count in any environment: an image signed only with revoked ' +
    'keys fails, and the row names each key, counted or not (evidence: keys, signatures[].key).\n\n' +
    'IMAGE is a registry reference, oci:DIR[:TAG], or bundle:FILE.tar:IMAGE for an image inside a bundle (as the ' +
    'bundle names it, e.g. bundle:site.tar:docker.io/library/postgres:16), so the closed side can gate an import ' +
    'offline.\n\n' +
    'With --ledger FILE (what promote and tag --ledger write), an immutable tag that names another digest than ' +
    'the ledger’s last successful record of it has moved since, whoever moved it (a skopeo copy around ferry): ' +
    'its immutable row fails, naming both digests and the ledger line.\n\n' +
    'Exit 0 when nothing failed (warnings allowed), 7 when an enforce-mode rule failed; other failures keep their ' +
    'codes (3 not found, 6 network, …).\n\n' +
    '--json: the summary counts rows. Rule ids: naming, labels, signature, sbom, tags.forbid, tags.semver, immutable.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    results: [
      {
        image: 'string',
        digest: 'string',
        environment: 'string | null',
        mode: 'string',
        checks: [policyCheckShape],
        labels: { 'source?': 'string', 'revision?': 'string', 'created?': 'string' },
      },
    ],
    summary: { images: 'number', passed: 'number', failed: 'number', warnings: 'number', skipped: 'number' },
  }

  static override examples = [
    '<%= config.bin %> policy check registry.intra/acme/shop/api-prod:v1.4.2',
    '<%= config.bin %> policy check registry.intra/acme/shop/api:v1.5.0-rc.1 --environment prod --json',
    '<%= config.bin %> policy check registry.intra/acme/shop/api-prod:v1.4.2 --ledger promotions.jsonl',
    '<%= config.bin %> policy check bundle:site.tar:registry.intra/acme/shop/api-prod:v1.4.2 --policy /media/usb/ferry.policy.yaml',
  ]
  static override strict = false
  static override args = {
    image: Args.string({
      required: true,
      description: 'REF (https://… too), oci:DIR[:TAG] or bundle:FILE.tar:REF (several may be given)',
    }),
  }
  static override flags = {
    policy: Flags.string({ description: 'The policy file.', default: DEFAULT_POLICY_FILE }),
    environment: Flags.string({
      description: 'Add this environment’s rules to those of the environment each image matches.',
    }),
    ledger: Flags.string({
      description:
        'A promotion ledger: an immutable tag that moved since its last record there fails, naming the line.',
    }),
  }

  async run() {
    const policy = await loadPolicy(this.flags.policy)
    const ledger = this.flags.ledger
    const recorded = ledger ? lastRecordedTags(ledger, await readLedger(ledger)) : undefined
    const images = this.positionals
    const results: ImageCheck[] = []
    for (const text of images) {
      const subject = await openSubject(this.context, text)
      try {
        const { digest } = await subject.target.resolve(subject.reference, { signal: this.signal })
        const { host, repository, tag } = subject.name
        const record =
          host !== undefined && tag !== undefined
            ? recorded?.get(recordedTagKey(`${host}/${repository}`, tag))
            : undefined
        const result = await checkImage({
          policy,
          target: subject.target,
          digest: digest as ImageCheck['digest'],
          name: subject.name,
          environment: this.flags.environment,
          ...(record ? { recorded: { digest: record.digest, where: recordedAt(record) } } : {}),
        })
        results.push(result)
        for (const line of renderImageCheck(result)) this.out(line)
      } finally {
        await subject.close()
      }
    }
    const summary = summarize(results)
    this.out(
      `${summary.passed} passed, ${summary.failed} failed, ${plural(summary.warnings, 'warning')}, ${summary.skipped} skipped`,
    )
    if (summary.failed) {
      const failure = new FerryError(
        'POLICY_VIOLATION',
        `${plural(summary.failed, 'enforce-mode rule')} failed`,
      )
      this.note(`ferry: policy check failed: ${failure.message}`)
      process.exitCode = exitCodeFor(failure)
    }
    return { results, summary }
  }
}
