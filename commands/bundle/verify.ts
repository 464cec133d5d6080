import { Args, Flags } from '@oclif/core'
import { repeatable } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import { bundleSignatureWords, formatBytes, plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { baseShape, omittedShape, signatureKeyShape, signatureStateType } from '../../cli/json-shapes.js'
import { flagKeySet, revokedFlag, trustPolicyFlag } from '../../cli/trust-flags.js'
import { type BundleVerifyReport, verifyBundleFile } from '../../src/bundle/verify.js'
import { exitCodeFor, FerryError } from '../../src/errors.js'
import { keyName } from '../../src/sign/trust.js'

export default class BundleVerify extends FerryCommand<typeof BundleVerify> {
  static override summary =
    'Verify a bundle offline: every blob, the layout, the metadata, signatures and SBOMs.'
  static override description =
    'Reads the tar once: each blob’s size and sha256 against its name and ferry-bundle.json, every manifest reachable ' +
    'from index.json, nothing unlisted or unreferenced, ferry-bundle.json consistent with the layout. Names with ' +
    '"..", absolute paths, links, devices, duplicate entries, oversized JSON and truncated tars are refused, and so ' +
    'are image names no registry can hold (upper case, "..", spaces), which bundle import refuses too.\n\n' +
    '--key NAME.pub checks the bundle’s signature (ferry-bundle.json.sig, which covers every blob digest and every ' +
    'index.json entry: a name added or moved after signing is refused) and each ' +
    'image’s own signatures in both schemes (cosign .sig tags, Sigstore bundle referrers). --require-sbom needs an ' +
    'SPDX or CycloneDX SBOM on each image (signed with the key when one is given). Nothing is fetched from the ' +
    'network: no transparency log, no TUF root.\n\n' +
    '--key is repeatable (any of them may have signed). A signature made with a key given to --revoked, or revoked ' +
    'by the --policy file’s trust block, never counts: a bundle signed with one is refused, an image signed only ' +
    'with one fails, and both are reported naming the key. A key the policy lists with notBefore/notAfter counts ' +
    'only while now is inside that window.\n\n' +
    'FILE may be a split bundle: its first part (FILE.000) or FILE.parts.json; every part’s sha256 is checked. ' +
    'Exit 0 only when everything holds; the report has one row per image (--json too).'
  static override examples = [
    '<%= config.bin %> bundle verify mini-api-1.0.tar',
    '<%= config.bin %> bundle verify mini-api-1.0.tar --key release.pub --require-sbom',
    '<%= config.bin %> bundle verify site.tar.parts.json --json',
    '<%= config.bin %> bundle verify mini-api-1.0.tar --key release-2027.pub --policy ferry.policy.yaml',
  ]
  static override args = {
    file: Args.string({ required: true, description: 'Bundle (FILE.tar, FILE.000 or FILE.parts.json).' }),
  }
  static override flags = {
    key: Flags.string({
      description: 'Public key (NAME.pub): the bundle signature and each image’s signatures. Repeatable.',
      ...repeatable,
    }),
    revoked: revokedFlag({ dependsOn: ['key'] }),
    policy: trustPolicyFlag({ dependsOn: ['key'] }),
    'require-sbom': Flags.boolean({ description: 'Each image must carry an SBOM.' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    'parts?': ['string'],
    name: 'string',
    version: 'string',
    created: 'string',
    'sequence?': 'number',
    signature: signatureStateType,
    'signer?': signatureKeyShape,
    blobs: 'number',
    bytes: 'number',
    omitted: omittedShape,
    'base?': baseShape,
    images: [
      {
        source: 'string',
        digest: 'string',
        ok: 'boolean',
        checks: [{ name: '"content" | "signature" | "sbom"', ok: 'boolean', detail: 'string' }],
      },
    ],
    ok: 'boolean',
  }

  async run() {
    const keys = this.flags.key?.length ? await flagKeySet(this.flags) : undefined
    const report = await verifyBundleFile(this.args.file, {
      keys,
      requireSbom: this.flags['require-sbom'],
      progress: this.context.progress,
    })
    this.out(render(report))
    if (!report.ok) {
      const failed = report.images.filter((i) => !i.ok).map((i) => i.source)
      const failure = new FerryError(
        'VERIFY_FAILED',
        `${report.file}: ${plural(failed.length, 'image')} failed: ${failed.join(', ')}`,
      )
      this.note(`ferry: verification failed: ${failure.message}`)
      process.exitCode = exitCodeFor(failure)
    }
    return report
  }
}

function render(r: BundleVerifyReport): string {
  const signature = `${bundleSignatureWords(r.signature)}${r.signer ? ` with ${keyName(r.signer)}` : ''}`
  const lines = [
    `${r.ok ? 'Verified' : 'NOT verified'}: ${r.file} — ${r.name} ${r.version} (${r.sequence === undefined ? '' : `sequence ${r.sequence}, `}created ${r.created}), ${signature}`,
    `  ${plural(r.blobs, 'blob')}, ${formatBytes(r.bytes)}, every digest checked` +
      (r.omitted.blobs
        ? `; ${plural(r.omitted.blobs, 'blob')} (${formatBytes(r.omitted.bytes)}) left out as a delta${r.base ? ` of ${r.base.name} ${r.base.version}` : ''}`
        : ''),
  ]
  for (const image of r.images) {
    lines.push(`  ${image.ok ? 'ok  ' : 'FAIL'}  ${image.source}  ${image.digest}`)
    for (const c of image.checks)
      if (c.name !== 'content' || !c.ok)
        lines.push(`          ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`)
  }
  return lines.join('\n')
}
