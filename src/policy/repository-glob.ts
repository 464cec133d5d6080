/**
 * `match.repositories` globs: doublestar syntax over `HOST/PATH` (`**` crosses "/", `*`, `?`, `[…]` and
 * `{a,b}` stay within one segment). Both sides are compared in canonical form (reference/canonical.ts):
 * the name's host, and a glob's literal host, lower case, without a default port, Docker Hub as
 * `docker.io`, so `LOCALHOST:5000/acme/api` is in the environment of `localhost:5000/acme/**`.
 */
import { minimatch } from 'minimatch'
import { isHostComponent } from '../reference/grammar.js'
import { canonicalRegistry, canonicalRepository } from '../reference/index.js'

const MINIMATCH = { dot: true, nocomment: true, nonegate: true } as const

// `[…]` within one segment: an optional `!`/`^`, a leading "]" as a member, POSIX classes (`[:digit:]`).
const BRACKET_RE = /\[([!^]?\]?(?:\[:[a-z]+:\]|[^\]/[])*)\]/y

/**
 * Why a glob can match no repository, or undefined. minimatch reads an unclosed `[` or `{` as a literal
 * character (which no repository name holds) and compiles a reversed range `[z-a]` to a pattern that
 * never matches: a typo that would switch an environment off without a word.
 */
export function repositoryGlobProblem(glob: string): string | undefined {
  let braces = 0
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '{') braces++
    else if (c === '}' && --braces < 0) return `"}" at ${i + 1} closes no "{"`
    else if (c === ']') return `"]" at ${i + 1} closes no "["`
    else if (c === '[') {
      BRACKET_RE.lastIndex = i
      const m = BRACKET_RE.exec(glob)
      if (!m) return `"[" at ${i + 1} is not closed within its path segment`
      const problem = bracketProblem(m[1]!)
      if (problem) return `${m[0]}: ${problem}`
      i += m[0].length - 1
    }
  }
  return braces > 0 ? '"{" is not closed' : caseProblem(glob)
}

/**
 * Upper case where no name holds it: repository paths are lower case by the grammar, and a first
 * segment is compared case-insensitively only when it is a host (`isHostComponent`), so `LOCALHOST/app/**`
 * or `acme/API` would match nothing. A bracket expression may name upper case (`[[:upper:]]`): skipped.
 */
function caseProblem(glob: string): string | undefined {
  const segments = glob.split('/')
  const hosted = segments.length > 1 && isHostComponent(segments[0]!)
  for (const [i, segment] of segments.entries()) {
    if (i === 0 && hosted) continue
    if (!/[A-Z]/.test(segment.replace(/\[[^\]]*\]/g, ''))) continue
    const hint =
      i === 0 ? ' (a first segment is a registry host when it holds "." or ":" or is localhost)' : ''
    return `"${segment}" is upper case, which no repository path is${hint}`
  }
  return undefined
}

/** Ranges must run upwards: JavaScript and minimatch both reject or never match `z-a`. */
function bracketProblem(body: string): string | undefined {
  const members = body.replace(/^[!^]/, '').replace(/\[:[a-z]+:\]/g, '')
  for (const [, from, to] of members.matchAll(/(.)-(.)/g)) {
    if (from! > to!) return `range ${from}-${to} is out of order (write ${to}-${from})`
  }
  return undefined
}

const WILDCARD_RE = /[*?[\]{}]/

/**
 * The glob with its host in canonical form when it starts with one (decided as in a reference:
 * `isHostComponent`); a literal Docker Hub path of one segment goes under `library/`.
 */
export function canonicalGlob(glob: string): string {
  const slash = glob.indexOf('/')
  if (slash < 0) return glob
  const host = glob.slice(0, slash)
  const path = glob.slice(slash + 1)
  if (!isHostComponent(host)) return glob
  if (WILDCARD_RE.test(host)) return `${host.toLowerCase()}/${path}`
  if (path.includes('/') || path.includes('**')) return `${canonicalRegistry(host)}/${path}`
  return canonicalRepository({ registry: host, repository: path })
}

/**
 * A repository glob matches HOST/PATH or, so that the host may be left out, PATH alone: `**\/*-prod`
 * covers every registry, `registry.intra/acme/**` only that one, however the name spells its host.
 */
export function repositoryMatches(glob: string, name: { host?: string; repository: string }): boolean {
  const pattern = canonicalGlob(glob)
  const candidates = [name.repository]
  if (name.host) candidates.push(canonicalRepository({ registry: name.host, repository: name.repository }))
  return candidates.some((c) => minimatch(c, pattern, MINIMATCH))
}
