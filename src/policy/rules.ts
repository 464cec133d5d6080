/**
 * One function per rule id. Each gives the row `policy check` prints and `promote` gates on; the mode
 * of the environment (enforce or warn) is applied by the caller, so a rule only says pass, fail or skip.
 */
import type { ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import { keyName, type SignatureKey } from '../sign/trust.js'
import { compilePattern } from '../spec/tag-filter.js'
import { plural } from '../util/plural.js'
import { type FoundLabel, isBlank } from './labels.js'
import { type Environment, environmentKeySet } from './load.js'
import type { ImageName } from './match.js'

/** In the order results list them. */
export const RULE_IDS = [
  'naming',
  'labels',
  'signature',
  'sbom',
  'tags.forbid',
  'tags.semver',
  'immutable',
] as const

export type RuleId = (typeof RULE_IDS)[number]

export interface RuleOutcome {
  rule: RuleId
  /** skip: the rule does not apply here (a tag rule for an image named by digest only). */
  result: 'pass' | 'fail' | 'skip'
  message: string
  evidence?: Record<string, unknown>
}

const SEGMENT_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/

export function checkNaming(template: string, name: ImageName): RuleOutcome {
  const want = template.split('/')
  const got = name.repository === '' ? [] : name.repository.split('/')
  if (got.length !== want.length) {
    return {
      rule: 'naming',
      result: 'fail',
      message: `"${name.repository}" has ${plural(got.length, 'path segment')}; ${template} needs exactly ${want.length}`,
      evidence: { template, repository: name.repository },
    }
  }
  const segments: Record<string, string> = {}
  for (const [i, expected] of want.entries()) {
    const actual = got[i]!
    const placeholder = /^\{(.+)\}$/.exec(expected)?.[1]
    const ok = placeholder ? SEGMENT_RE.test(actual) : actual === expected
    if (!ok) {
      const rule = placeholder ? 'lower-case words joined by "-"' : `"${expected}"`
      return {
        rule: 'naming',
        result: 'fail',
        message: `segment ${i + 1} (${placeholder ? `{${placeholder}}` : expected}) is "${actual}": must be ${rule}`,
        evidence: { template, repository: name.repository, segment: i + 1, value: actual },
      }
    }
    if (placeholder) segments[placeholder] = actual
  }
  const shown = Object.entries(segments)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  return {
    rule: 'naming',
    result: 'pass',
    message: `${name.repository} fits ${template}${shown ? ` (${shown})` : ''}`,
    evidence: { template, repository: name.repository, segments },
  }
}

export function checkLabels(required: readonly string[], found: Map<string, FoundLabel>): RuleOutcome {
  const present = required.flatMap((n) => {
    const label = found.get(n)
    return label ? [label] : []
  })
  const missing = required.filter((n) => !found.has(n))
  // `LABEL org.opencontainers.image.source=""` (a build argument nobody set) records nothing.
  const empty = present.filter((l) => isBlank(l.value))
  const where = present
    .filter((l) => !isBlank(l.value))
    .map((l) => `${l.name}=${l.value} (${l.where})`)
    .join(', ')
  const problems = [
    missing.length ? `missing ${missing.join(', ')} (neither a manifest annotation nor a config label)` : '',
    empty.length ? `empty ${empty.map((l) => `${l.name} (${l.where})`).join(', ')}` : '',
  ].filter(Boolean)
  return {
    rule: 'labels',
    result: problems.length ? 'fail' : 'pass',
    message: problems.length ? `${problems.join('; ')}${where ? `; found ${where}` : ''}` : `found ${where}`,
    evidence: { found: present, missing, empty: empty.map((l) => l.name) },
  }
}

/**
 * The signature and SBOM rules, by the offline verify (both signature schemes) with the environment's
 * keys, judged by the trust decision (sign/trust.ts: the file's revoked keys and each key's window):
 * the image must carry a signature that counts, and its SBOM one by a key that signed the image.
 * Every signature made with a key the policy knows is named with it, counted or not (revoked, expired).
 */
export async function checkSignatureAndSbom(
  env: Environment,
  target: ReadOnlyTarget,
  digest: Digest,
): Promise<RuleOutcome[]> {
  const wantSbom = env.require?.sbom === true
  // The verifier (and Sigstore's libraries) loads only where a rule requires a signature or an SBOM.
  const { verifyImage } = await import('../supply/index.js')
  const report = await verifyImage({
    target,
    reference: digest,
    keys: environmentKeySet(env),
    requireSbom: wantSbom,
  })
  const requirement = (name: 'signature' | 'sbom') => report.requirements.find((r) => r.name === name)!
  const keys = env.keys.map((k) => k.name).join(', ')
  const counted = report.signatures.filter((s) => s.ok)
  const signers = [...new Map(counted.map((s) => [s.key!.fingerprint, s.key!])).values()]
  const refused = report.signatures.filter((s) => !s.ok && s.key && s.key.status !== 'trusted')
  const notCounted = refused.length
    ? `; not counted: ${[...new Set(refused.map((s) => `${s.format} ${s.manifest}: ${s.reason}`))].join('; ')}`
    : ''
  const sig = requirement('signature')
  const out: RuleOutcome[] = []
  out.push({
    rule: 'signature',
    result: counted.length ? 'pass' : 'fail',
    message: counted.length
      ? `${counted.map((s) => `${keyName(s.key!)} verifies ${s.format} ${s.manifest}`).join(', ')}${notCounted}`
      : `no signature verifies with ${keys}: ${sig.detail}`,
    evidence: {
      ...(signers[0] ? { key: signers[0].path, fingerprint: signers[0].fingerprint } : {}),
      keys: signers.map(keyEvidence),
      signatures: report.signatures
        .filter((s) => s.key)
        .map((s) => ({
          format: s.format,
          scheme: s.scheme,
          manifest: s.manifest,
          counted: s.ok,
          key: keyEvidence(s.key!),
        })),
    },
  })
  if (wantSbom) {
    const sbom = requirement('sbom')
    const signedSboms = (report.sboms ?? []).filter((s) => s.signed)
    const sbomKeys = [
      ...new Set(signedSboms.flatMap((s) => s.signatures.filter((c) => c.ok).map((c) => keyName(c.key!)))),
    ]
    out.push({
      rule: 'sbom',
      result: counted.length && sbom.ok ? 'pass' : 'fail',
      message:
        counted.length && sbom.ok
          ? `${signedSboms.map((s) => `${s.format} ${s.digest}`).join(', ')} signed with ${sbomKeys.join(', ')}`
          : counted.length
            ? sbom.detail
            : `needs an SBOM signed with the key that signs the image; ${sbom.detail}`,
      evidence: {
        ...(signers[0] ? { key: signers[0].path } : {}),
        sboms: signedSboms.map((s) => ({ digest: s.digest, format: s.format })),
      },
    })
  }
  return out
}

/** A key in a row's evidence: fingerprint, the name the policy gives it, and how it was judged. */
const keyEvidence = (k: SignatureKey) => ({
  fingerprint: k.fingerprint,
  ...(k.path === undefined ? {} : { path: k.path }),
  status: k.status,
  ...(k.notBefore === undefined ? {} : { notBefore: k.notBefore }),
  ...(k.notAfter === undefined ? {} : { notAfter: k.notAfter }),
})

export function checkForbiddenTags(patterns: readonly string[], tag: string | undefined): RuleOutcome {
  if (tag === undefined) return { rule: 'tags.forbid', result: 'skip', message: 'no tag (by digest)' }
  const hit = patterns.find((p) => compilePattern(p)(tag))
  return hit
    ? {
        rule: 'tags.forbid',
        result: 'fail',
        message: `tag "${tag}" is forbidden here (${hit})`,
        evidence: { pattern: hit },
      }
    : { rule: 'tags.forbid', result: 'pass', message: `tag "${tag}" is not forbidden` }
}

// SemVer 2.0 with a leading v; no build metadata: "+" is not a legal character in an OCI tag.
const RELEASE_TAG_RE =
  /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?$/

export function checkSemverTag(tag: string | undefined): RuleOutcome {
  if (tag === undefined) return { rule: 'tags.semver', result: 'skip', message: 'no tag (by digest)' }
  return RELEASE_TAG_RE.test(tag)
    ? { rule: 'tags.semver', result: 'pass', message: `"${tag}" is a SemVer release tag` }
    : {
        rule: 'tags.semver',
        result: 'fail',
        message: `"${tag}" is not a SemVer release tag vX.Y.Z[-PRERELEASE]`,
      }
}

/**
 * `existing` is what the tag names now where the image is going (undefined: the tag is new). A tag
 * already naming this digest is fine: re-promoting is a no-op.
 */
export function checkImmutable(
  tag: string | undefined,
  digest: Digest,
  existing: Digest | undefined,
): RuleOutcome {
  if (tag === undefined) return { rule: 'immutable', result: 'skip', message: 'no tag (by digest)' }
  if (existing === undefined) {
    return { rule: 'immutable', result: 'pass', message: `"${tag}" is new; once written it never moves` }
  }
  if (existing === digest) {
    return { rule: 'immutable', result: 'pass', message: `"${tag}" already names ${digest}` }
  }
  return {
    rule: 'immutable',
    result: 'fail',
    message: `"${tag}" is immutable and names ${existing}; it cannot move to ${digest}`,
    evidence: { existing, wanted: digest },
  }
}

/**
 * An immutable tag that names `now` where a record (the ledger) says it named `recorded.digest`: it has
 * moved since, whoever moved it. Nothing else can say so afterwards: the registry only knows where the
 * tag is now.
 */
export function checkImmutableRecorded(
  tag: string | undefined,
  now: Digest,
  recorded: { digest: string; where: string },
): RuleOutcome {
  if (tag === undefined) return { rule: 'immutable', result: 'skip', message: 'no tag (by digest)' }
  return {
    rule: 'immutable',
    result: 'fail',
    message: `"${tag}" is immutable and has moved: it names ${now}, the ledger recorded ${recorded.digest} at ${recorded.where}`,
    evidence: { existing: now, recorded: recorded.digest, ledger: recorded.where },
  }
}

/**
 * Deleting an immutable tag, or a manifest it needs (`deleting`: the digest itself, or a manifest its
 * index lists), is a move to nothing: refused as any move is.
 */
export function checkImmutableRemoval(
  tag: string,
  existing: Digest,
  deleting: Digest = existing,
): RuleOutcome {
  const needs = deleting === existing ? '' : `, which lists ${deleting}`
  return {
    rule: 'immutable',
    result: 'fail',
    message: `"${tag}" is immutable and names ${existing}${needs}; it cannot be deleted`,
    evidence: { existing, deleting },
  }
}
