import { Args, Flags } from '@oclif/core'
import { repeatableList } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import { formatBytes, plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { SIGNING_KEY_HELP, signingKeyFlag, withSigner } from '../../cli/signing-key.js'
import { packEvidence } from '../../src/evidence/pack.js'

export default class EvidencePack extends FerryCommand<typeof EvidencePack> {
  static override summary =
    'Capture directories and images into one reproducible evidence tar: SHA256SUMS, chain of custody, signature.'
  static override description =
    'Writes one plain tar holding the regular files of each DIR (under files/BASENAME/…), each --image by digest ' +
    'with its signatures, SBOMs and attestations (one OCI layout under images/, named REPO@sha256:HEX), SHA256SUMS ' +
    '(every entry but itself and the statement; `tar -x` then `sha256sum -c SHA256SUMS` checks it), and ' +
    'custody.jsonl, the chain of custody, whose first event is `captured` (time, custodian, case, host, ferry ' +
    'version, note), hash-chained as the ledger is. Symbolic links, devices, FIFOs and sockets are refused, naming ' +
    'the first one.\n\n' +
    'Reproducible: sorted names, mode 0644, owner 0, and every time the capture time, from --captured-at, else ' +
    'SOURCE_DATE_EPOCH; without either the pack is refused (never the clock). Packing the same input at the same ' +
    'time again gives the same bytes, signed with a key file too (deterministic ECDSA, RFC 6979); a PKCS#11 ' +
    'token signs with randomised ECDSA, so only statement.intoto.json.sig then differs (pack says so).\n\n' +
    '--key signs: statement.intoto.json is an in-toto statement whose subjects are SHA256SUMS and the custody ' +
    'head, and statement.intoto.json.sig is base64 of its ECDSA P-256 signature (DER), the format of `cosign ' +
    'sign-blob`: after `tar -x`, `base64 -d statement.intoto.json.sig > sig.der && openssl dgst -sha256 -verify ' +
    'KEY.pub -signature sig.der statement.intoto.json` checks it. The custodian defaults to $FERRY_ACTOR, the CI ' +
    'identity, else user@host.'
  static override examples = [
    '<%= config.bin %> evidence pack /mnt/case-42/disk-dump --case CASE-42 --custodian "A. Analyst" --captured-at 2024-05-01T10:00:00Z --key evidence.key --output case-42.tar',
    '<%= config.bin %> evidence pack ./logs --image registry.intra/acme/web:v1.4.2 --case INC-7 --output inc-7.tar',
    '<%= config.bin %> evidence pack /mnt/case-42/db-3 --case CASE-42 --captured-at 2024-05-01T10:00:00Z --key "pkcs11:token=forensics;object=analyst?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/hsm-pin" --output case-42.tar',
    'SOURCE_DATE_EPOCH=1714557600 <%= config.bin %> evidence pack ./capture --case CASE-42 --note "seized from host db-3" --output case-42.tar',
  ]
  static override strict = false
  static override args = {
    dir: Args.string({ description: 'Directories (or single files) to capture; several may be given.' }),
  }
  static override flags = {
    output: Flags.string({ char: 'o', required: true, description: 'The evidence tar to write.' }),
    case: Flags.string({ required: true, description: 'Case identifier, recorded in every custody event.' }),
    image: Flags.string({
      description:
        'An image (REGISTRY/REPO:TAG or @DIGEST) to capture by digest with its referrers. Repeatable, or comma-separated.',
      ...repeatableList,
    }),
    custodian: Flags.string({
      description: 'Who captured it. Default: $FERRY_ACTOR, the CI identity, else user@host.',
    }),
    note: Flags.string({ description: 'A note on the captured event (where, how, why).' }),
    'captured-at': Flags.string({
      description:
        'Capture time, RFC 3339 (2024-05-01T10:00:00Z). Default: SOURCE_DATE_EPOCH; one of them is needed.',
    }),
    key: signingKeyFlag({ description: `Sign the statement with this key. ${SIGNING_KEY_HELP}` }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    file: 'string',
    case: 'string',
    capturedAt: 'string',
    custodian: 'string',
    files: 'number',
    images: [{ reference: 'string', digest: 'string' }],
    entries: 'number',
    size: 'number',
    sha256: 'string',
    sums: 'string',
    head: 'string',
    signed: 'boolean',
    reproducible: 'boolean',
  }

  async run() {
    const { flags } = this
    return withSigner(
      flags.key,
      (l) => this.note(l),
      async (signer) => {
        const result = await packEvidence(this.context, {
          paths: this.positionals,
          images: flags.image ?? [],
          case: flags.case,
          custodian: flags.custodian,
          note: flags.note,
          capturedAt: flags['captured-at'],
          output: flags.output,
          signer,
          tool: `ferry ${this.config.version}`,
        })
        this.out(result.file)
        this.note(
          `case ${result.case}: ${plural(result.files, 'file')}, ${plural(result.images.length, 'image')}, ${plural(result.entries, 'entry', 'entries')} (${formatBytes(result.size)})` +
            `${result.signed ? ', signed' : ''}; captured ${result.capturedAt} by ${result.custodian}; sha256 ${result.sha256}`,
        )
        this.note(`custody head ${result.head}`)
        if (!result.reproducible)
          this.note(
            'note: the token’s ECDSA signature is randomised: packing again gives another statement.intoto.json.sig (everything else is byte-identical)',
          )
        return result
      },
    )
  }
}
