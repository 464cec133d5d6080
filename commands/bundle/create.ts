import { Args, Flags } from '@oclif/core'
import { repeatableList } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import { formatBytes, plural, table } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { bundleImageShape, omittedShape } from '../../cli/json-shapes.js'
import { SIGNING_KEY_HELP, signingKeyFlag, withSigner } from '../../cli/signing-key.js'
import { createBundle } from '../../src/bundle/create.js'
import { parseSize } from '../../src/bundle/output.js'
import { defaultBundleName, loadBundleSpec, specFromImages } from '../../src/bundle/spec.js'
import { FerryError } from '../../src/errors.js'
import { parsePlatform } from '../../src/oci/platform.js'

export default class BundleCreate extends FerryCommand<typeof BundleCreate> {
  static override summary =
    'Write images, signatures and SBOMs into one portable, reproducible tar for an air gap.'
  static override description =
    'The bundle is an OCI image layout in a plain tar (skopeo, umoci and `tar -x` read it) plus ferry-bundle.json, ' +
    'with each image named in index.json by its source reference: REPO:TAG, or REPO@sha256:HEX for one given by digest ' +
    '(skopeo oci:DIR:REPO@sha256:HEX). ' +
    'ferry-bundle.json lists every image, platform, referrer and blob digest. Every image is resolved and its graph walked ' +
    'before the first byte is written; blobs then stream from the registry into the tar, verified, each once. ' +
    'Entries are sorted with one fixed time (SOURCE_DATE_EPOCH, else the newest created time of the images) and no host data, so the same content gives ' +
    'the same sha256. The file appears under its name only when complete.\n\n' +
    'Deltas: --base OLD.tar leaves out blobs the old bundle carried (manifests are always included); --against ' +
    'INVENTORY.json (from `ferry inventory` on the closed side) leaves out what that registry holds. Import checks ' +
    'the destination has them before writing anything.\n\n' +
    '--sequence N records a release counter in the signed metadata (e.g. the CI build number): `bundle import` ' +
    'refuses to move a tag that a bundle of the same name with a higher sequence set (without one, the later ' +
    '`created` is the newer bundle).\n\n' +
    '--split-size 4G writes FILE.000, FILE.001, … and FILE.parts.json (each part’s size and sha256). --key signs ' +
    'ferry-bundle.json (ECDSA P-256, base64 DER in ferry-bundle.json.sig) with a key file (the password from ' +
    'FERRY_PASSWORD, else COSIGN_PASSWORD, else a prompt) or a key in a PKCS#11 token (a pkcs11: URI). A key ' +
    'file signs deterministically (RFC 6979), so two signed runs of the same content give the same bytes; a ' +
    'token signs with random nonces, so only ferry-bundle.json.sig differs (a line on stderr says so).\n\n' +
    '--require-signature and --require-sbom judge each image (each tag a tag filter selects) by what the bundle ' +
    'carries attached to its digest, once every graph is walked and before the first byte is written: one line ' +
    'names every image that lacks one, and nothing is written (exit 7). Presence only: `bundle verify --key` ' +
    'checks the signatures on the closed side.\n\n' +
    'Without SPEC, --image REF (repeatable) names the images. The bundle is named by --name, else after the ' +
    'images (the last component of each repository: acme/web and library/redis make web-redis), never after ' +
    'the output file, so the same images make the same bytes.'
  static override examples = [
    '<%= config.bin %> bundle create bundles/mini-api.yaml --output mini-api-1.0.tar',
    '<%= config.bin %> bundle create bundles/mini-api.yaml --output mini-api-1.1.tar --base mini-api-1.0.tar --key release.key',
    '<%= config.bin %> bundle create bundles/mini-api.yaml --output mini-api-1.2.tar --key release.key --sequence 12',
    "<%= config.bin %> bundle create bundles/mini-api.yaml --output mini-api-1.2.tar --key 'pkcs11:token=release;object=bundles?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/hsm-pin'",
    '<%= config.bin %> bundle create bundles/mini-api.yaml --output site.tar --against closed-side.json --split-size 700M',
    '<%= config.bin %> bundle create --image reg.local:5000/acme/web:v1.4.2 --image docker.io/library/redis:7.2 --output web.tar',
    '<%= config.bin %> bundle create bundles/mini-api.yaml --output mini-api-1.0.tar --require-signature --require-sbom',
  ]
  static override args = {
    spec: Args.string({ description: 'Bundle spec (YAML); see bundles/mini-api.yaml.' }),
  }
  static override flags = {
    output: Flags.string({ char: 'o', required: true, description: 'The bundle file to write (FILE.tar).' }),
    base: Flags.string({ description: 'Earlier bundle: leave out the blobs it carried (a delta).' }),
    against: Flags.string({ description: 'Inventory of the receiving registry: leave out what it holds.' }),
    'split-size': Flags.string({
      description: 'Write parts of at most SIZE (4G, 700M; binary units) and FILE.parts.json.',
    }),
    key: signingKeyFlag({ description: `Sign ferry-bundle.json with this key. ${SIGNING_KEY_HELP}` }),
    sequence: Flags.integer({
      description: 'Release counter in the signed metadata: import refuses to move tags back to a lower one.',
      min: 0,
    }),
    image: Flags.string({
      description: 'An image to carry, instead of a spec. Repeatable, or comma-separated.',
      ...repeatableList,
      exclusive: ['spec'],
    }),
    platform: Flags.string({
      description: 'With --image: keep only OS/ARCH[/VARIANT] of each index. Repeatable, or comma-separated.',
      ...repeatableList,
    }),
    name: Flags.string({
      description: 'With --image: the bundle name (default: from the images, e.g. web-redis).',
    }),
    'bundle-version': Flags.string({ description: 'With --image: the bundle version.', default: '0' }),
    'no-referrers': Flags.boolean({
      description: 'With --image: leave signatures, SBOMs and attestations behind.',
    }),
    'require-signature': Flags.boolean({
      description:
        'Each image must carry a signature (cosign .sig tag or Sigstore bundle referrer) on its own digest; else nothing is written (exit 7).',
    }),
    'require-sbom': Flags.boolean({
      description:
        'Each image must carry an SPDX or CycloneDX SBOM on its own digest; else nothing is written (exit 7).',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    files: ['string'],
    size: 'number',
    sha256: 'string',
    'parts?': [{ name: 'string', size: 'number', sha256: 'string' }],
    name: 'string',
    version: 'string',
    created: 'string',
    'sequence?': 'number',
    images: [bundleImageShape],
    blobs: 'number',
    blobBytes: 'number',
    omitted: omittedShape,
    signed: 'boolean',
    durationMs: 'number',
  }

  async run() {
    const { flags } = this
    if (!this.args.spec && !flags.image?.length)
      throw new FerryError('USAGE', 'name a bundle spec, or images with --image REF')
    if (this.args.spec && flags.image?.length)
      throw new FerryError('USAGE', 'give either a spec or --image, not both')
    const spec = this.args.spec
      ? await loadBundleSpec(this.args.spec)
      : specFromImages(flags.image!, {
          name: flags.name ?? defaultBundleName(flags.image!),
          version: flags['bundle-version'],
          platforms: flags.platform?.map(parsePlatform),
          referrers: !flags['no-referrers'],
        })
    return withSigner(
      flags.key,
      (l) => this.note(l),
      async (signingKey) => {
        const result = await createBundle(this.context, spec, {
          output: flags.output,
          base: flags.base,
          against: flags.against,
          splitSize: flags['split-size'] === undefined ? undefined : parseSize(flags['split-size']),
          signingKey,
          sequence: flags.sequence,
          require: { signature: flags['require-signature'], sbom: flags['require-sbom'] },
        })
        this.out(
          table(
            result.images.map((i) => [
              i.source,
              i.digest,
              i.platforms.join(',') || '-',
              plural(i.referrers.length, 'referrer'),
            ]),
          ),
        )
        for (const f of result.files) this.out(f)
        this.note(
          `${result.name} ${result.version}: ${plural(result.images.length, 'image')}, ${plural(result.blobs, 'blob')} (${formatBytes(result.blobBytes)})` +
            `${result.omitted.blobs ? `, ${result.omitted.blobs} left out (${formatBytes(result.omitted.bytes)})` : ''}` +
            `${result.signed ? ', signed' : ''}${result.sequence === undefined ? '' : `, sequence ${result.sequence}`}; sha256 ${result.sha256} in ${(result.durationMs / 1000).toFixed(1)}s`,
        )
        if (signingKey && !signingKey.deterministic) this.note(RANDOMISED_SIGNATURE_NOTE)
        return result
      },
    )
  }
}

/** The one thing in a signed bundle that is not reproducible, said once so that a changed sha256 is expected. */
const RANDOMISED_SIGNATURE_NOTE =
  "note: this key's ECDSA signatures are randomised: signing the same content again gives another ferry-bundle.json.sig (everything else is byte-identical), so another sha256"
