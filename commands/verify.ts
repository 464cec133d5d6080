import { Flags } from '@oclif/core'
import { imageArg, repeatable } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { schemeType, signatureCheckShape } from '../cli/json-shapes.js'
import { flagKeySet, revokedFlag, trustPolicyFlag } from '../cli/trust-flags.js'
import { exitCodeFor, FerryError } from '../src/errors.js'
import { isDigest } from '../src/oci/digest.js'
import { keyName } from '../src/sign/trust.js'
import {
  parseKeyValues,
  type SignatureCheck,
  type VerifyImageResult,
  verifyImage,
} from '../src/supply/index.js'
import { openSource } from '../src/targets/open.js'

export default class Verify extends FerryCommand<typeof Verify> {
  static override summary = 'Verify an image’s signatures offline with a public key.'
  static override description =
    'Resolves IMAGE to its digest, finds signatures in both schemes (cosign’s sha256-<hex>.sig tag and Sigstore ' +
    'bundle referrers) and checks each with the key: the signature itself, and that it names exactly this ' +
    'digest. Nothing but the registry or layout is contacted: no transparency log, no TUF root; the report says ' +
    'what that leaves unchecked.\n\n' +
    '--require-sbom also needs an SPDX or CycloneDX SBOM attached (referrer or cosign .sbom tag) and signed with ' +
    'the same key. -a KEY=VALUE needs the signer to have recorded that annotation.\n\n' +
    'Keys: --key is repeatable (a signature by any of them counts: the old and the new key during a rotation), ' +
    'and the report names the key that made each signature (path and sha256: fingerprint). A signature made with ' +
    'a key given to --revoked, or revoked by the --policy file’s trust block, never counts and is reported as ' +
    'revoked, also when that key is known only by its fingerprint (P-256 keys are recovered from the signature). ' +
    'A key the policy lists with notBefore/notAfter counts only while now is inside that window: offline there is ' +
    'no trusted signing time, so a signature made in the window stops counting when the key expires (re-sign ' +
    'with the new key before notAfter).\n\n' +
    'Exit 0 only when at least one signature verifies and every requirement holds; otherwise the report is ' +
    'still printed (also with --json) and the exit code is 5.'
  static override examples = [
    '<%= config.bin %> verify registry.intra/acme/web:v1.4.2 --key cosign.pub',
    '<%= config.bin %> verify registry.intra/acme/web@sha256:… --key cosign.pub --require-sbom -a release=v1.4.2',
    '<%= config.bin %> verify oci:./import:web --key cosign.pub --require-sbom --json',
    '<%= config.bin %> verify registry.intra/acme/web:v1.4.2 --key release-2027.pub --policy ferry.policy.yaml',
    '<%= config.bin %> verify registry.intra/acme/web:v1.4.2 --key release-2027.pub --revoked sha256:…',
  ]
  static override args = { image: imageArg() }
  static override flags = {
    key: Flags.string({
      description: 'A signer’s public key (NAME.pub); a signature by any of them counts. Repeatable.',
      required: true,
      ...repeatable,
    }),
    revoked: revokedFlag(),
    policy: trustPolicyFlag(),
    'require-sbom': Flags.boolean({ description: 'Also require an SBOM signed with the same key.' }),
    annotation: Flags.string({
      char: 'a',
      description: 'KEY=VALUE the signature must carry. Repeatable.',
      ...repeatable,
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    name: 'string',
    reference: 'string',
    digest: 'string',
    ok: 'boolean',
    'reason?': 'string',
    signatures: [signatureCheckShape],
    'sboms?': [
      {
        scheme: schemeType,
        digest: 'string',
        format: '"spdx" | "cyclonedx"',
        'tag?': 'string',
        signed: 'boolean',
        signatures: [signatureCheckShape],
      },
    ],
    requirements: [{ name: '"signature" | "sbom"', ok: 'boolean', detail: 'string' }],
    notChecked: ['string'],
  }

  async run() {
    const keys = await flagKeySet(this.flags)
    const annotations = parseKeyValues(this.flags.annotation)
    const { target, reference } = await openSource(this.context, this.args.image)
    let report: VerifyImageResult
    try {
      report = await verifyImage({
        target,
        reference,
        keys,
        requireSbom: this.flags['require-sbom'],
        annotations,
      })
    } finally {
      await target.close()
    }
    this.out(render(report))
    if (!report.ok) {
      // The report is the output (printed above, or as --json); the failure is the exit code and one line.
      const failure = new FerryError('VERIFY_FAILED', `${shown(report)}: ${report.reason}`)
      this.note(`ferry: verification failed: ${failure.message}`)
      process.exitCode = exitCodeFor(failure)
    }
    return report
  }
}

/** The image as given: NAME:TAG, or NAME@DIGEST when it was asked for by digest. */
const shown = (r: VerifyImageResult) =>
  isDigest(r.reference) ? `${r.name}@${r.reference}` : `${r.name}:${r.reference}`

function signatureLine(s: SignatureCheck): string {
  const where = s.format === 'classic' ? `${s.tag} layer ${s.layer}` : `${s.manifest}`
  // Which key made it, unless the reason already names it (a revoked or expired key).
  const by =
    s.key && !s.reason?.includes(s.key.fingerprint)
      ? ` by ${s.key.status === 'trusted' ? '' : `${s.key.status} key `}${keyName(s.key)}`
      : ''
  return `  ${s.ok ? 'ok  ' : 'FAIL'}  ${s.format.padEnd(7)} ${s.scheme.padEnd(13)} ${where}${s.ok ? '' : `: ${s.reason}`}${by}`
}

function render(r: VerifyImageResult): string {
  const lines = [`${r.ok ? 'Verified' : 'NOT verified'}: ${shown(r)} (${r.digest})`]
  lines.push('signatures:')
  if (!r.signatures.length) lines.push('  (none found)')
  lines.push(...r.signatures.map(signatureLine))
  if (r.sboms) {
    lines.push('sboms:')
    if (!r.sboms.length) lines.push('  (none found)')
    for (const s of r.sboms) {
      lines.push(`  ${s.signed ? 'ok  ' : 'FAIL'}  ${s.format.padEnd(9)} ${s.scheme.padEnd(13)} ${s.digest}`)
      lines.push(...s.signatures.map((c) => `    ${signatureLine(c)}`))
    }
  }
  lines.push('requirements:')
  for (const q of r.requirements) lines.push(`  ${q.ok ? 'ok  ' : 'FAIL'}  ${q.name}: ${q.detail}`)
  if (r.notChecked.length) {
    lines.push('not checked (offline, with a key):')
    for (const n of r.notChecked) lines.push(`  - ${n}`)
  }
  return lines.join('\n')
}
