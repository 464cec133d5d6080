/**
 * Reading versions out of image tags, which are rarely strict SemVer. The rules, in order:
 *
 *   1.4.2, v1.4.2          → 1.4.2
 *   16, v1.4, 3.12         → 16.0.0, 1.4.0, 3.12.0       (missing parts are zero)
 *   v1.4.2-rc.1, 2.0-dev   → 1.4.2-rc.1, 2.0.0-dev      (a prerelease: see PRERELEASE_WORDS)
 *   3.13.0rc2, 1.0-beta3   → 3.13.0-rc.2, 1.0.0-beta.3  (word and number split, so rc.10 > rc.2)
 *   3.12-slim, 16-alpine3.19 → 3.12.0, 16.0.0          (any other suffix is a variant of a release)
 *   latest, sha-1a2b3c, 1.2.3.4, 1.2.3_1, 16alpine → no version
 *
 * `semver.coerce` is deliberately not used: it finds digits anywhere (`sha-abc123` → 123.0.0) and
 * drops prerelease suffixes, which would let a `-rc` tag satisfy a release range.
 */
import type { SemVer } from 'semver'
// The functions alone: semver's index loads all of its 48 modules (ranges, sets, subset…), a measurable
// part of sync's start-up (bench/README.md, "Start-up").
import compare from 'semver/functions/compare.js'
import parse from 'semver/functions/parse.js'

// The channel suffixes release pipelines use; anything else after "-" names a build variant.
const PRERELEASE_WORDS = ['alpha', 'beta', 'rc', 'dev', 'pre', 'preview', 'snapshot', 'nightly', 'canary']

const CORE_RE = /^v?(\d{1,15})(?:\.(\d{1,15}))?(?:\.(\d{1,15}))?(.*)$/
const PRERELEASE_RE = new RegExp(
  `^-?(${PRERELEASE_WORDS.join('|')})(?:[.-]?(\\d{1,15}))?((?:[.-][0-9A-Za-z]+)*)$`,
  'i',
)
const VARIANT_RE = /^-[0-9A-Za-z][0-9A-Za-z._-]*$/

export function tagVersion(tag: string): SemVer | null {
  const core = CORE_RE.exec(tag)
  if (!core) return null
  const [, major, minor = '0', patch = '0', rest = ''] = core
  const base = `${Number(major)}.${Number(minor)}.${Number(patch)}`
  if (rest === '') return parse(base)

  const pre = PRERELEASE_RE.exec(rest)
  if (pre) {
    const ids = [pre[1]!.toLowerCase()]
    if (pre[2] !== undefined) ids.push(String(Number(pre[2])))
    for (const part of (pre[3] ?? '').split(/[.-]/)) {
      if (part !== '') ids.push(/^\d+$/.test(part) ? String(Number(part)) : part)
    }
    return parse(`${base}-${ids.join('.')}`)
  }
  return VARIANT_RE.test(rest) ? parse(base) : null
}

/**
 * The order selections are reported in: versions highest first (a prerelease below its release,
 * variants of one version side by side), then tags without a version; ties broken lexically.
 */
export function sortTags(tags: Iterable<string>): string[] {
  const keyed = [...tags].map((tag) => ({ tag, version: tagVersion(tag) }))
  keyed.sort((a, b) => {
    if (a.version && b.version) {
      const byVersion = compare(b.version, a.version)
      if (byVersion !== 0) return byVersion
    } else if (a.version || b.version) {
      return a.version ? -1 : 1
    }
    return a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0
  })
  return keyed.map((k) => k.tag)
}
