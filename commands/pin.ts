import { Args, Flags } from '@oclif/core'
import { repeatable, stripComponentsFlag } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import { plural, table } from '../cli/format.js'
import type { JsonShape } from '../cli/json-shape.js'
import { flagKeySet, revokedFlag } from '../cli/trust-flags.js'
import { loadMappingFile } from '../src/bundle/mapping.js'
import { readMappingOut } from '../src/bundle/mapping-out.js'
import { exitCodeFor, FerryError } from '../src/errors.js'
import {
  type ImageGate,
  type InternalNames,
  keyGate,
  mappingOutNames,
  type PinReport,
  pin,
  registryNames,
} from '../src/pin/index.js'

export default class Pin extends FerryCommand<typeof Pin> {
  static override summary =
    'Rewrite Compose, Kubernetes, Helm values, kustomize files and Dockerfiles to verified internal references by digest.'
  static override description =
    'For each image in the files: find it on the internal registry (HEAD), verify it offline (signatures with ' +
    '--key, in both cosign schemes), then rewrite it to HOST/PREFIX/REPO:TAG@sha256:… (the tag stays for people; ' +
    'the digest is what runs). An image that does not resolve or does not verify fails the run and is listed, and ' +
    'nothing is written unless every image passes (--allow-unverified pins it anyway, with a warning and ' +
    '"verified": false in the lock file). Files are written all at once, after every verification: each to a ' +
    'temporary file, then all renamed, and a failed rename puts back those already done, so a run that fails ' +
    'writes nothing. A rewritten file keeps its mode (and with --in-place its owner and group where possible).\n\n' +
    'Formats, by file name or content: Compose services.*.image; Kubernetes pod specs (Pod, Deployment, ' +
    'StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob; containers, initContainers, ' +
    'ephemeralContainers); Helm values maps with repository and tag/digest/registry (and global.imageRegistry): a ' +
    'digest key is filled, else the tag becomes TAG@sha256:…; kustomization images: (newName, digest). ' +
    '--any-image-key adds any key named image (CRDs). Dockerfiles (Dockerfile, Containerfile, Dockerfile.*, ' +
    '*.Dockerfile): FROM [--platform=…] IMAGE, COPY --from=IMAGE, RUN --mount=…,from=IMAGE and # syntax=IMAGE; stage ' +
    'names (any case), stage indexes and scratch are left alone; ARG BASE=IMAGE before the first FROM, used as ' +
    'FROM $BASE, is pinned at its default, and an ARG without one is reported, not guessed. Compose services with ' +
    'build: and no image: are listed as built, not pulled, and their Dockerfile is followed (once) and pinned. ' +
    'Directories are walked for *.yaml, *.yml and Dockerfiles; symbolic ' +
    'links are followed while they stay inside the directory (--in-place writes their target), and a link out ' +
    'of it is reported as ignored (--check: not checked, exit 1).\n\n' +
    'Names inside: --registry HOST[:PORT][/PREFIX] applies the rule of bundle import --to (postgres:16 → ' +
    'HOST/PREFIX/library/postgres:16), with --strip-components and --mapping FILE.yaml; or --mapping FILE.json as ' +
    'bundle import --mapping-out wrote it. A reference already under the internal registry is verified and kept ' +
    '(pinned if it has no digest). Templates (\u0024{…}, {{ … }}) are reported and left alone. A TAG@DIGEST keeps ' +
    'its digest; if the tag names another one now, a warning names both. A name the mapping file does not list ' +
    'fails with the "source" key to add, or --registry HOST/PREFIX to use instead.\n\n' +
    'Only image text changes, in its original quoting: comments, anchors, key order, line endings, ' +
    'continuation lines and every other byte ' +
    'stay; an anchored image also used outside image positions (UPSTREAM_IMAGE: *img) fails rather than ' +
    'change that value. --check changes nothing and exits 1 listing what is not pinned to the internal registry (a CI guard).'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    mode: 'string',
    ok: 'boolean',
    files: [
      {
        file: 'string',
        'format?': 'string',
        'output?': 'string',
        changed: 'boolean',
        images: [
          {
            at: 'string',
            line: 'number',
            before: 'string',
            'after?': 'string',
            'digest?': 'string',
            verdict: 'string',
            messages: ['string'],
            'warnings?': ['string'],
          },
        ],
      },
    ],
    ignored: [
      { file: 'string', reason: 'string', 'target?': 'string', 'outside?': 'boolean', 'output?': 'string' },
    ],
    written: ['string'],
    'lock?': 'string',
    counts: { '*': 'number' },
  }

  static override examples = [
    '<%= config.bin %> pin examples/mini-api --registry reg.local:5000/cache --key release.pub --out pinned/',
    '<%= config.bin %> pin deploy/ --mapping images.json --key release.pub --in-place',
    '<%= config.bin %> pin deploy/ --mapping images.json --key release-2027.pub --revoked sha256:… --in-place',
    '<%= config.bin %> pin pinned/ --registry reg.local:5000/cache --check',
    '<%= config.bin %> pin compose.yaml --registry reg.local:5000 --strip-components 1 --key release.pub --out pinned/ --json',
    '<%= config.bin %> pin deploy/ --registry reg.local:5000/cache --from bundle:site.tar --key release.pub --out pinned/',
    '<%= config.bin %> pin . --registry reg.local:5000/cache --key release.pub --in-place    # Dockerfiles, compose.yaml and its build: Dockerfiles, chart/',
    '<%= config.bin %> pin Dockerfile --registry reg.local:5000/cache --check',
  ]
  static override strict = false
  static override args = {
    path: Args.string({ required: true, description: 'Files or directories (FILE|DIR...).' }),
  }
  static override flags = {
    registry: Flags.string({
      description: 'The internal registry: HOST[:PORT][/PREFIX] (https:// or http:// in front too).',
    }),
    mapping: Flags.string({
      description:
        'With --registry: YAML map of source repository → path under it (as bundle import). Alone: the JSON ' +
        'bundle import --mapping-out wrote.',
    }),
    'strip-components': stripComponentsFlag,
    key: Flags.string({
      description:
        'A signer’s public key (NAME.pub); an image passes with a signature by any key. Repeatable.',
      ...repeatable,
    }),
    revoked: revokedFlag(),
    policy: Flags.string({
      description:
        'A governance policy file whose environment checks every image must pass (its trust block included: revoked keys, key windows).',
    }),
    environment: Flags.string({
      description: 'The policy’s environment to check against.',
      dependsOn: ['policy'],
    }),
    out: Flags.string({
      description:
        'Write the pinned files under DIR (relative paths kept), and every other file of a walked directory ' +
        'copied unchanged (templates, files that are neither YAML nor Dockerfiles), so DIR is the whole tree.',
      exclusive: ['in-place'],
    }),
    'in-place': Flags.boolean({ description: 'Rewrite the files themselves.' }),
    check: Flags.boolean({
      description: 'Change nothing; exit 1 listing each image not pinned to the internal registry.',
    }),
    lock: Flags.string({
      description: 'Lock file: each image, its pin, digest and evidence. Default ferry.lock.json in --out.',
    }),
    'allow-unverified': Flags.boolean({
      description: 'Pin images that fail verification, with a warning each.',
    }),
    'any-image-key': Flags.boolean({
      description: 'Also rewrite any key named image with a string value (CRDs).',
    }),
    from: Flags.string({
      description:
        'Resolve and verify each image in this bundle (bundle:FILE), by the name the bundle gives it, instead of ' +
        'on the internal registry: pin before the import, from the file alone (import keeps every digest).',
    }),
  }

  async run() {
    const { flags } = this
    const names = await this.internalNames()
    const gate = await this.gate()
    const report = await pin(this.context, {
      inputs: this.positionals,
      names,
      gate,
      out: flags.out,
      inPlace: flags['in-place'],
      check: flags.check,
      lock: flags.lock,
      allowUnverified: flags['allow-unverified'],
      anyImageKey: flags['any-image-key'],
      from: flags.from,
    })
    const lines = render(report)
    if (lines) this.out(lines)
    const check = report.mode === 'check'
    for (const f of report.files)
      for (const i of f.images)
        for (const w of i.warnings ?? []) this.note(`ferry: warning: ${f.file}:${i.line}: ${w}`)
    for (const i of report.ignored) {
      if (check && i.outside) this.note(`ferry: not checked ${i.reason}`)
      else this.note(`ferry: ignored ${i.reason}${i.output ? ' (copied unchanged)' : ''}`)
    }
    if (check) {
      const notPinned = report.counts.unpinned + report.counts.failed
      const unread = report.ignored.filter((i) => i.outside).length
      if (report.ok) this.note(`${plural(report.counts.pinned, 'image')} pinned to ${names.describe}`)
      else {
        if (notPinned || !unread)
          this.note(`ferry: ${plural(notPinned, 'image')} not pinned to ${names.describe}`)
        if (unread)
          this.note(`ferry: not checked: ${plural(unread, 'symbolic link')} out of the directory walked`)
        process.exitCode = 1
      }
    } else if (!report.ok) {
      const failed = report.files.flatMap((f) => f.images.filter((i) => i.verdict === 'failed'))
      const failure = new FerryError(
        'VERIFY_FAILED',
        `${plural(failed.length, 'image')} did not pass; nothing was written`,
      )
      this.note(`ferry: ${failure.message}`)
      process.exitCode = exitCodeFor(failure)
    } else {
      for (const i of report.files.flatMap((f) => f.images.filter((x) => x.verdict === 'unverified')))
        this.note(`ferry: warning: pinned unverified: ${i.before} → ${i.after}`)
      this.note(`${summary(report)}; wrote ${plural(report.written.length - 1, 'file')} and ${report.lock}`)
    }
    return report
  }

  private async internalNames(): Promise<InternalNames> {
    const { flags } = this
    if (flags.registry) {
      const mapping = flags.mapping ? await loadMappingFile(flags.mapping) : undefined
      return registryNames(flags.registry, { stripComponents: flags['strip-components'], mapping })
    }
    if (!flags.mapping)
      throw new FerryError(
        'USAGE',
        'name the internal registry: --registry HOST[:PORT][/PREFIX] or --mapping FILE.json',
      )
    const file = await readMappingOut(flags.mapping).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new FerryError('USAGE', `cannot read ${flags.mapping}: no such file`)
      throw err
    })
    if (!file)
      throw new FerryError(
        'USAGE',
        `${flags.mapping}: not a bundle import --mapping-out file; a YAML map of repositories needs --registry`,
      )
    return mappingOutNames(file, flags.mapping)
  }

  private async gate(): Promise<ImageGate | undefined> {
    if (this.flags.revoked?.length && !this.flags.key?.length)
      throw new FerryError(
        'USAGE',
        '--revoked goes with --key (a policy revokes keys in its own trust block)',
      )
    if (this.flags.policy !== undefined) {
      if (this.flags.key?.length)
        throw new FerryError('USAGE', 'give --key or --policy, not both: the policy names its keys')
      const { loadPolicy } = await import('../src/policy/index.js')
      const { policyGate } = await import('../src/pin/policy-gate.js')
      return policyGate(await loadPolicy(this.flags.policy), this.flags.environment)
    }
    if (!this.flags.key?.length) return undefined
    return keyGate(await flagKeySet({ key: this.flags.key, revoked: this.flags.revoked }))
  }
}

function summary(r: PinReport): string {
  const c = r.counts
  const parts = [`${c.pinned} pinned`, `${c.kept} kept`]
  if (c.unverified) parts.push(`${c.unverified} unverified`)
  if (c.skipped) parts.push(`${c.skipped} skipped`)
  return parts.join(', ')
}

function render(r: PinReport): string {
  const rows: string[][] = []
  for (const f of r.files) {
    for (const i of f.images) {
      // Like gofmt -l: --check lists only what needs attention.
      if (r.mode === 'check' && i.verdict === 'pinned') continue
      const after = i.after && i.after !== i.before ? `→ ${i.after}` : ''
      const why = i.verdict === 'pinned' || i.verdict === 'kept' ? '' : (i.messages.at(-1) ?? '')
      rows.push([i.verdict, `${f.file}:${i.line}`, i.before, after, why])
    }
  }
  return table(rows)
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
}
