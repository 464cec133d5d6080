/**
 * `ferry pin`: deployment files rewritten to verified internal references by digest. For each image:
 * place it inside (internal.ts), resolve it there by HEAD, pass it through the gate (gate.ts), and only
 * when every image passed, write every file (and the lock file) at once.
 */
import { dirname, join, resolve } from 'node:path'
import type { Context } from '../context.js'
import { FerryError, isFerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import {
  DEFAULT_TAG,
  formatLocation,
  type Location,
  parseLocation,
  type RegistryReference,
} from '../reference/index.js'
import { TargetSet } from '../targets/open.js'
import type { IgnoredFile, InputFile } from './files.js'
import type { Evidence, ImageGate } from './gate.js'
import { type Pinned, pinEdits, pinnedReference, readImage } from './images.js'
import type { InternalNames } from './internal.js'
import { DEFAULT_LOCK_FILE, encodeLock, type LockEntry, lockFile } from './lock.js'
import { readInputs } from './parse.js'
import { type Locate, type Place, resolver } from './resolve.js'
import { type Format, type Site, siteNodes } from './sites.js'
import { applyEdits, type Edit } from './splice.js'
import { type Output, writeAll } from './write-all.js'

export interface PinOptions {
  /** Files and directories (walked for *.yaml and *.yml). */
  inputs: string[]
  names: InternalNames
  /** Absent only with `allowUnverified`. */
  gate?: ImageGate
  /**
   * Write pinned copies under this directory (the inputs' relative paths kept), and every other file of
   * a walked directory (chart templates, non-YAML files) copied unchanged...
   */
  out?: string
  /** ...or rewrite the inputs themselves. */
  inPlace?: boolean
  /** Change nothing: report what is not pinned to the internal registry. */
  check?: boolean
  /** Default `ferry.lock.json` in --out (with --in-place: in the first input's directory). */
  lock?: string
  /** Pin images that fail the gate anyway, each with a warning and `verified: false` in the lock. */
  allowUnverified?: boolean
  /** Also any key named `image` with a string value (CRDs). */
  anyImageKey?: boolean
  /**
   * Resolve and verify each image in this bundle (`bundle:FILE`), by the name the bundle gives it
   * (where it came from), instead of on the internal registry: pinned before the import, from the file
   * alone. Import keeps every digest, so the pins hold once it is imported.
   */
  from?: string | Location
}

export type Verdict =
  | 'pinned' // rewritten to the internal reference by digest
  | 'kept' // already the internal reference by the digest it resolves to
  | 'unverified' // pinned under --allow-unverified although the gate refused it
  | 'failed' // does not resolve, or does not pass the gate: nothing is written
  | 'skipped' // a template, or a reference this file does not fully hold
  | 'unpinned' // --check: not an internal reference by digest

export interface ImageReport {
  at: string
  line: number
  before: string
  after?: string
  digest?: Digest
  verdict: Verdict
  messages: string[]
  /** Pinned or kept all the same: a TAG@DIGEST whose tag names another digest now. */
  warnings?: string[]
}

export interface FileReport {
  file: string
  format?: Format
  /** Where the pinned file was (or, had every image passed, would have been) written. */
  output?: string
  changed: boolean
  images: ImageReport[]
}

export interface PinReport {
  mode: 'check' | 'write'
  /** Every image passed (write) or is pinned (check). */
  ok: boolean
  files: FileReport[]
  /** Files found in a directory and not pinned: not parsable as YAML, links out of it or to nothing. */
  ignored: IgnoredFile[]
  /** Files written, the lock file last; empty unless `ok` (or --allow-unverified). */
  written: string[]
  lock?: string
  counts: Record<Verdict, number>
}

const emptyCounts = (): Record<Verdict, number> => ({
  pinned: 0,
  kept: 0,
  unverified: 0,
  failed: 0,
  skipped: 0,
  unpinned: 0,
})

export async function pin(ctx: Context, opts: PinOptions): Promise<PinReport> {
  if (!opts.check && !opts.out === !opts.inPlace)
    throw new FerryError('USAGE', 'give exactly one of --out DIR or --in-place (or --check)')
  if (!opts.check && !opts.gate && !opts.allowUnverified)
    throw new FerryError('USAGE', 'nothing to verify with: give --key (or --policy), or --allow-unverified')
  const out = opts.check ? undefined : opts.out
  const { inputs, parsed, copies, ignored, built } = await readInputs(opts.inputs, {
    out,
    anyImageKey: opts.anyImageKey ?? false,
  })
  const targets = new TargetSet(ctx)
  const images = resolver(opts.gate, locator(ctx, targets, opts.from))
  const lockEntries: LockEntry[] = []
  const outputs: Output[] = []
  const files: FileReport[] = []
  try {
    for (const file of parsed) {
      const edits: Edit[] = []
      const reports: ImageReport[] = []
      for (const { site, line } of file.sites) {
        const read = readImage(file.text, site)
        const shared = sharedAnchor(site)
        const report: ImageReport = {
          at: site.at,
          line,
          before: read.written,
          verdict: 'skipped',
          messages: [],
        }
        reports.push(report)
        if ('skip' in read) report.messages.push(read.skip)
        else if ('error' in read) {
          report.verdict = 'failed'
          report.messages.push(read.error)
        } else if (opts.check) {
          checkOne(opts.names, read.ref, report)
          if (shared && report.verdict === 'unpinned') report.messages.push(shared)
        } else {
          const placed = await pinOne(opts, images, read.ref, report)
          if (!placed) continue
          if (shared && report.verdict !== 'kept') {
            report.verdict = 'failed'
            report.messages.push(shared)
            continue
          }
          if (report.verdict !== 'kept') edits.push(...pinEdits(file.text, site, placed))
          lockEntries.push({
            original: read.written,
            pinned: report.after!,
            digest: placed.digest,
            verified: report.verdict !== 'unverified',
            evidence: placed.evidence,
            ...(report.verdict === 'unverified' ? { warnings: report.messages } : {}),
            sites: [`${file.input.relative}: ${site.at}`],
          })
        }
      }
      // A service built, not pulled: one line saying so, and where its Dockerfile was followed.
      for (const b of file.builds.filter((x) => !x.image)) {
        const messages = [built.get(b)!]
        reports.push({ at: b.at, line: b.line, before: `build: ${b.context}`, verdict: 'skipped', messages })
      }
      reports.sort((a, b) => a.line - b.line)
      const { input } = file
      const output = opts.check ? undefined : out ? join(out, input.relative) : input.real
      const text = applyEdits(file.text, edits)
      const changed = text !== file.text
      // --in-place gives the file back as it was but for the images: mode, owner and group.
      const owner = out ? {} : { owner: { uid: input.uid, gid: input.gid } }
      if (output && (out || changed))
        outputs.push({ path: output, bytes: Buffer.from(text), mode: input.mode, ...owner })
      files.push({ file: file.input.path, format: file.format, output, changed, images: reports })
    }
  } finally {
    await targets.close()
  }

  const counts = emptyCounts()
  for (const r of files.flatMap((f) => f.images)) counts[r.verdict]++
  // --check cannot vouch for a tree whose links lead to files it did not read.
  const unread = opts.check && ignored.some((i) => i.outside)
  const ok = counts.failed === 0 && counts.unpinned === 0 && !unread
  const report: PinReport = { mode: opts.check ? 'check' : 'write', ok, files, ignored, written: [], counts }
  if (opts.check || !ok) return report
  const lock = opts.lock ?? join(out ?? lockDirOf(opts.inputs[0]!, inputs), DEFAULT_LOCK_FILE)
  // An old lock file in the tree is replaced by this run's, not copied over it.
  const copied = copies.flatMap((c): Output[] => {
    const path = join(out ?? '', c.relative)
    return out && resolve(path) !== resolve(lock) ? [{ path, copyOf: c.real, mode: c.mode }] : []
  })
  const all = [...outputs, ...copied, { path: lock, bytes: encodeLock(lockFile(lockEntries)) }]
  await writeAll(all)
  return { ...report, written: [...new Set(all.map((f) => f.path))], lock }
}

/**
 * Why an image is refused: its anchored text is also read outside image positions. Rewriting it would
 * change an environment variable or a label along with the image (anchors.ts); leaving it unpinned would
 * deploy a tag. Refusing keeps "only image scalars change" true and costs the user one line.
 */
function sharedAnchor(site: Site): string | undefined {
  if (!site.sharedWith) return undefined
  const anchor = siteNodes(site).find((n) => n?.anchor)?.anchor
  return `the anchor &${anchor} is also used at ${site.sharedWith.join(', ')}: pinning it would change those too`
}

/** Where images are resolved: on their internal place, or in the bundle `--from` names. */
function locator(ctx: Context, targets: TargetSet, from: string | Location | undefined): Locate {
  if (from === undefined) {
    return async (place) => ({
      target: ctx.client.repository(place),
      name: `${place.registry}/${place.repository}`,
      where: `on ${place.registry}`,
    })
  }
  const bundle = typeof from === 'string' ? parseLocation(from) : from
  if (bundle.kind !== 'bundle' || bundle.repository !== undefined) {
    throw new FerryError(
      'USAGE',
      `--from takes a bundle file alone (bundle:FILE), not ${formatLocation(bundle)}`,
    )
  }
  return async (_place, source) => {
    const view = { ...bundle, registry: source.registry, repository: source.repository }
    const { target } = await targets.openSource(view)
    return { target, name: `${source.registry}/${source.repository}`, where: `in bundle ${bundle.path}` }
  }
}

function lockDirOf(first: string, inputs: InputFile[]): string {
  const explicit = inputs.find((i) => i.path === first && i.explicit)
  return explicit ? dirname(first) : first
}

/** --check: pinned means an internal reference that carries a digest. */
function checkOne(names: InternalNames, ref: RegistryReference, report: ImageReport): void {
  const internal = names.isInternal(ref)
  if (internal && ref.digest) {
    report.verdict = 'pinned'
    return
  }
  report.verdict = 'unpinned'
  report.messages.push(internal ? 'internal, but not pinned by digest' : `not under ${names.describe}`)
}

async function pinOne(
  opts: PinOptions,
  images: ReturnType<typeof resolver>,
  ref: RegistryReference,
  report: ImageReport,
): Promise<(Pinned & { evidence: Evidence }) | undefined> {
  let place: Place & { imported?: Digest }
  try {
    place = opts.names.isInternal(ref)
      ? { registry: ref.registry, repository: ref.repository, tag: ref.tag }
      : { ...opts.names.place(ref), tag: ref.tag }
    if (opts.names.scheme) place.scheme = opts.names.scheme
  } catch (err) {
    if (!isFerryError(err)) throw err
    report.verdict = 'failed'
    report.messages.push(err.message)
    return undefined
  }
  const selector = ref.digest ?? ref.tag ?? DEFAULT_TAG
  const resolved = await images.get(place, ref, selector, ref.digest ? undefined : place.imported)
  report.messages.push(...resolved.messages)
  if (!resolved.digest) {
    report.verdict = 'failed'
    return undefined
  }
  const pinned: Pinned = {
    registry: place.registry,
    repository: place.repository,
    tag: place.tag,
    digest: resolved.digest,
  }
  report.digest = resolved.digest
  report.after = pinnedReference(pinned)
  const passed = resolved.verdict?.ok ?? false
  if (!passed && !opts.allowUnverified) {
    report.verdict = 'failed'
    return undefined
  }
  if (ref.digest && ref.tag) {
    // The digest is what runs and stays as written; the tag is only for people, so a tag that has
    // moved since is worth a line, not a different image.
    const now = await images.tagDigest(place, ref, ref.tag)
    const name = `${place.registry}/${place.repository}:${ref.tag}`
    if (now && now !== ref.digest)
      report.warnings = [
        `${name} names ${now} now, not ${ref.digest}: kept ${ref.digest} as written (the digest wins)`,
      ]
  }
  const kept = opts.names.isInternal(ref) && ref.digest === resolved.digest
  report.verdict = !passed ? 'unverified' : kept ? 'kept' : 'pinned'
  if (kept) report.after = report.before
  return { ...pinned, evidence: resolved.verdict?.evidence ?? {} }
}
