import { RE2JS, RE2JSSyntaxException } from 're2js'

/**
 * `/regex/` tag patterns, matched by RE2 (re2js): time linear in the tag whatever the pattern, so a
 * hostile spec cannot stall ferry (JavaScript's backtracking engine ran `/^(a+)+$/` against 34
 * characters for minutes). The syntax is JavaScript's: a pattern is first checked with `new RegExp`,
 * then written in RE2's syntax where the two differ. Backreferences and lookaround cannot run in linear
 * time and are refused (RE2 refuses them; its words are replaced by ferry's).
 */

const BACKREFERENCE = 'backreferences are not supported (tag regexes run in linear time)'
const LOOKAROUND = 'lookahead and lookbehind are not supported (tag regexes run in linear time)'
/** Bounds RE2's program, and so the work per tag character. */
const MAX_PROGRAM = 10_000

/** A compiled tag regex: whether it matches anywhere in the tag, as `RegExp.test`. */
export interface TagRegex {
  test(tag: string): boolean
}

/** A refused pattern; the message is what a spec error shows. */
class Refused extends Error {}

// Escapes JavaScript and RE2 read alike. JavaScript (without u) reads any other escaped letter as the
// letter itself, where RE2 may give it a meaning (\A, \z, \Q, \a): those become the bare letter.
const SHARED = /^(?:[dDwWsSbBtnvfr]|x[0-9a-fA-F]{2})/
const U4 = /^u([0-9a-fA-F]{4})/
const U_BRACED = /^u\{([0-9a-fA-F]+)\}/

/** The escape at `rest` (after the backslash) in RE2's syntax, and how many characters it took. */
function re2Escape(rest: string, unicode: boolean, inClass: boolean): [string, number] {
  const c = rest[0]!
  // Kept for RE2 to refuse (mapped to BACKREFERENCE below): a digit, or \k<name>.
  if (/[1-9k]/.test(c)) return [`\\${c}`, 1]
  if (c === 'c' || c === 'p' || c === 'P' || (c === '0' && /^0\d/.test(rest))) {
    throw new Refused(`the escape \\${c} is not supported in tag regexes`)
  }
  if (c === 'b' && inClass) return ['\\x08', 1]
  if (c === '0') return ['\\x00', 1]
  const u = (unicode && U_BRACED.exec(rest)) || U4.exec(rest)
  if (u) return [`\\x{${u[1]}}`, u[0].length]
  if (SHARED.test(rest)) return [`\\${c}`, 1]
  return /[A-Za-z]/.test(c) ? [c, 1] : [`\\${c}`, 1]
}

/**
 * RE2's spelling of a JavaScript pattern: escapes as above; `[` inside a class is a literal (RE2 would
 * read `[[:alpha:]]` as a POSIX class); `[]` matches nothing and `[^]` anything, as in JavaScript.
 */
function re2Syntax(source: string, unicode: boolean): string {
  let out = ''
  let inClass = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\' && i + 1 < source.length) {
      const [text, used] = re2Escape(source.slice(i + 1), unicode, inClass)
      out += text
      i += used
    } else if (inClass) {
      if (c === ']') inClass = false
      out += c === '[' ? '\\[' : c
    } else if (c === '[' && source.startsWith('[]', i)) {
      out += '[^\\x00-\\x{10FFFF}]'
      i++
    } else if (c === '[' && source.startsWith('[^]', i)) {
      out += '[\\x00-\\x{10FFFF}]'
      i += 2
    } else {
      if (c === '[') inClass = true
      out += c
    }
  }
  return out
}

/** RE2's refusal in ferry's words, where ferry has words for it. */
function refusal(err: RE2JSSyntaxException): string {
  const what = err.getDescription()
  const where = err.getPattern() ?? ''
  if (what === 'invalid escape sequence' && /^\\[1-9k]/.test(where)) return BACKREFERENCE
  if (/^\(\?(?:[=!]|<[=!])/.test(where)) return LOOKAROUND
  if (what === 'invalid repeat count') {
    return 'repetition counts above 1000 are not supported (nested counts multiply)'
  }
  if (what === 'expression too large') return 'the pattern is too large'
  return where ? `${what}: ${where}` : what
}

const FLAGS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL }

// Policies test one tag at a time: a pattern is compiled once per process, not once per tag.
const compiled = new Map<string, TagRegex | string>()
const MAX_CACHED = 1000

function compile(source: string, flags: string): TagRegex | string {
  // g and y make RegExp.test stateful between calls; the rest change nothing a tag could show.
  if (/[gy]/.test(flags)) return 'regex flags g and y are not allowed'
  const other = flags.replace(/[imsu]/g, '')
  if (other) return `regex flag ${other[0]} is not supported (use i, m, s or u)`
  try {
    // JavaScript's parser decides what is a valid pattern; RE2 then runs it.
    new RegExp(source, flags)
  } catch (err) {
    return (err as Error).message
  }
  try {
    let bits = 0
    for (const f of flags) bits |= FLAGS[f] ?? 0
    const re = RE2JS.compile(re2Syntax(source, flags.includes('u')), bits)
    if (re.programSize() > MAX_PROGRAM) return `/${source}/: the pattern is too large`
    return re
  } catch (err) {
    if (err instanceof Refused) return `/${source}/: ${err.message}`
    if (err instanceof RE2JSSyntaxException) return `/${source}/: ${refusal(err)}`
    throw err
  }
}

/** The compiled `/source/flags`, or why it is refused. */
export function compileTagRegex(source: string, flags: string): TagRegex | string {
  const key = `${flags}/${source}`
  let re = compiled.get(key)
  if (re === undefined) {
    if (compiled.size >= MAX_CACHED) compiled.clear()
    re = compile(source, flags)
    compiled.set(key, re)
  }
  return re
}
