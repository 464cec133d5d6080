/**
 * A regex matcher whose running time is linear in the input: the pattern becomes a Thompson NFA and
 * every input position advances the whole set of live states at once, so no input can make it
 * backtrack. Tag filters come from specs, tags from registries; with JavaScript's backtracking engine
 * `/^(a+)+$/` against 34 characters ran for minutes.
 *
 * The syntax is JavaScript's (patterns are first checked with `new RegExp`), minus what cannot be
 * matched without backtracking or memory of earlier input: backreferences and lookaround are refused.
 * Everything else used in tag filters is supported: literals and escapes, `.`, classes (`[a-z]`,
 * `[^.]`, `\d \w \s` and their negations), groups (capturing, `(?:…)`, named), `|`, `* + ? {n,m}`
 * (greedy or lazy: only whether it matches counts), `^ $ \b \B`, and the flags i, m, s, u.
 */

/** A refused or oversized pattern; the message is what a spec error shows. */
export class UnsupportedRegex extends Error {}

/** Bounds the NFA, so `(a{1000}){1000}` is refused instead of expanded. */
const MAX_STATES = 10_000
const MAX_REPEAT = 1000

type CharTest = (c: number) => boolean
type Assertion = 'start' | 'end' | 'word' | 'nonword'

type Node =
  | { kind: 'char'; test: CharTest }
  | { kind: 'assert'; what: Assertion }
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'repeat'; node: Node; min: number; max: number }

interface Flags {
  ignoreCase: boolean
  multiline: boolean
  dotAll: boolean
}

const isDigit = (c: number) => c >= 48 && c <= 57
const isWord = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
const isLineTerminator = (c: number) => c === 10 || c === 13 || c === 0x2028 || c === 0x2029
const SPACE_RE = /\s/
const isSpace = (c: number) => SPACE_RE.test(String.fromCharCode(c))
const not =
  (t: CharTest): CharTest =>
  (c) =>
    !t(c)

class Parser {
  private pos = 0
  constructor(
    private readonly src: string,
    private readonly flags: Flags,
  ) {}

  parse(): Node {
    const node = this.alternation()
    if (this.pos < this.src.length) throw new UnsupportedRegex(`unexpected "${this.src[this.pos]}"`)
    return node
  }

  private peek(): string | undefined {
    return this.src[this.pos]
  }

  private alternation(): Node {
    const options = [this.sequence()]
    while (this.peek() === '|') {
      this.pos++
      options.push(this.sequence())
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options }
  }

  private sequence(): Node {
    const items: Node[] = []
    while (this.pos < this.src.length && this.peek() !== '|' && this.peek() !== ')') {
      items.push(this.quantified(this.atom()))
    }
    return { kind: 'seq', items }
  }

  private quantified(node: Node): Node {
    let min: number
    let max: number
    const c = this.peek()
    if (c === '*') [min, max] = [0, Number.POSITIVE_INFINITY]
    else if (c === '+') [min, max] = [1, Number.POSITIVE_INFINITY]
    else if (c === '?') [min, max] = [0, 1]
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos))
      if (!m) return node // a lone "{" is a literal, as in JavaScript without the u flag
      min = Number(m[1])
      max = m[2] === undefined ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3])
      if (min > MAX_REPEAT || (Number.isFinite(max) && max > MAX_REPEAT)) {
        throw new UnsupportedRegex(`repetition counts above ${MAX_REPEAT} are not supported`)
      }
      this.pos += m[0].length - 1
    } else return node
    this.pos++
    if (this.peek() === '?') this.pos++ // lazy: the same set of matches
    if (node.kind === 'assert') return min === 0 ? { kind: 'seq', items: [] } : node
    return { kind: 'repeat', node, min, max }
  }

  private atom(): Node {
    const c = this.src[this.pos++]!
    switch (c) {
      case '^':
        return { kind: 'assert', what: 'start' }
      case '$':
        return { kind: 'assert', what: 'end' }
      case '.':
        return { kind: 'char', test: this.flags.dotAll ? () => true : not(isLineTerminator) }
      case '(':
        return this.group()
      case '[':
        return { kind: 'char', test: this.charClass() }
      case '\\':
        return this.escape()
      default:
        return { kind: 'char', test: this.caseless(literal(c.charCodeAt(0))) }
    }
  }

  private group(): Node {
    if (this.src.startsWith('?:', this.pos)) this.pos += 2
    else if (/^\?<?[=!]/.test(this.src.slice(this.pos, this.pos + 3))) {
      throw new UnsupportedRegex(
        'lookahead and lookbehind are not supported (tag regexes run in linear time)',
      )
    } else if (this.src.startsWith('?<', this.pos)) {
      this.pos = this.src.indexOf('>', this.pos) + 1
    }
    const inner = this.alternation()
    if (this.peek() !== ')') throw new UnsupportedRegex('unterminated group')
    this.pos++
    return inner
  }

  private escape(): Node {
    const c = this.src[this.pos]!
    if (c === 'b' || c === 'B') {
      this.pos++
      return { kind: 'assert', what: c === 'b' ? 'word' : 'nonword' }
    }
    if ((c >= '1' && c <= '9') || c === 'k') {
      throw new UnsupportedRegex('backreferences are not supported (tag regexes run in linear time)')
    }
    return { kind: 'char', test: this.caseless(this.escapedChar(false)) }
  }

  /** After a backslash: a class escape or one character. Inside [...], \b is a backspace. */
  private escapedChar(inClass: boolean): CharTest {
    const c = this.src[this.pos++]!
    switch (c) {
      case 'd':
        return isDigit
      case 'D':
        return not(isDigit)
      case 'w':
        return isWord
      case 'W':
        return not(isWord)
      case 's':
        return isSpace
      case 'S':
        return not(isSpace)
    }
    return literal(this.escapedCode(c, inClass))
  }

  private escapedCode(c: string, inClass: boolean): number {
    const simple: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13, '0': 0 }
    if (c === 'b' && inClass) return 8
    if (c in simple && !(c === '0' && isDigit(this.src.charCodeAt(this.pos)))) return simple[c]!
    const hex = (len: number) => {
      const h = this.src.slice(this.pos, this.pos + len)
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) return undefined
      this.pos += len
      return Number.parseInt(h, 16)
    }
    if (c === 'x') return hex(2) ?? c.charCodeAt(0)
    if (c === 'u') {
      if (this.peek() === '{') {
        const end = this.src.indexOf('}', this.pos)
        const code = Number.parseInt(this.src.slice(this.pos + 1, end), 16)
        this.pos = end + 1
        return code
      }
      return hex(4) ?? c.charCodeAt(0)
    }
    if (c === 'c' || c === 'p' || c === 'P' || isDigit(c.charCodeAt(0))) {
      throw new UnsupportedRegex(`the escape \\${c} is not supported in tag regexes`)
    }
    return c.charCodeAt(0)
  }

  private charClass(): CharTest {
    const negate = this.peek() === '^'
    if (negate) this.pos++
    const parts: CharTest[] = []
    while (this.peek() !== ']') {
      if (this.pos >= this.src.length) throw new UnsupportedRegex('unterminated character class')
      const low = this.classAtom()
      if (this.peek() === '-' && this.src[this.pos + 1] !== ']' && typeof low === 'number') {
        this.pos++
        const high = this.classAtom()
        if (typeof high !== 'number') {
          parts.push(literal(low), literal(45), high)
          continue
        }
        parts.push((c) => c >= low && c <= high)
      } else parts.push(typeof low === 'number' ? literal(low) : low)
    }
    this.pos++
    // Case folding applies to the members, before a negation: /[^a]/i does not match "A".
    const any = this.caseless((c) => parts.some((t) => t(c)))
    return negate ? not(any) : any
  }

  /** One class member: a code unit, or a class escape such as \d. */
  private classAtom(): number | CharTest {
    const c = this.src[this.pos++]!
    if (c !== '\\') return c.charCodeAt(0)
    const e = this.src[this.pos]!
    if ('dDwWsS'.includes(e)) return this.escapedChar(true)
    this.pos++
    return this.escapedCode(e, true)
  }

  private caseless(test: CharTest): CharTest {
    if (!this.flags.ignoreCase) return test
    return (c) => {
      if (test(c)) return true
      const key = canonical(c)
      const s = String.fromCharCode(c)
      for (const other of [s.toUpperCase(), s.toLowerCase()]) {
        if (other.length !== 1) continue
        const o = other.charCodeAt(0)
        if (o !== c && canonical(o) === key && test(o)) return true
      }
      return false
    }
  }
}

/** JavaScript's case folding without the u flag (Canonicalize in ECMA-262): upper case, but never into ASCII from outside it. */
function canonical(c: number): number {
  const upper = String.fromCharCode(c).toUpperCase()
  if (upper.length !== 1) return c
  const u = upper.charCodeAt(0)
  return c >= 128 && u < 128 ? c : u
}

function literal(code: number): CharTest {
  return (c) => c === code
}

// NFA states, in one array: a char state consumes a matching code unit, a split and an assert do not.
type State =
  | { kind: 'char'; test: CharTest; next: number }
  | { kind: 'split'; next: number; alt: number }
  | { kind: 'assert'; what: Assertion; next: number }
  | { kind: 'match' }

class Compiler {
  readonly states: State[] = []

  private add(state: State): number {
    if (this.states.length >= MAX_STATES) throw new UnsupportedRegex('the pattern is too large')
    this.states.push(state)
    return this.states.length - 1
  }

  /** Compiles `node` to continue at `next`; returns its entry state. Built back to front. */
  build(node: Node, next: number): number {
    switch (node.kind) {
      case 'char':
        return this.add({ kind: 'char', test: node.test, next })
      case 'assert':
        return this.add({ kind: 'assert', what: node.what, next })
      case 'seq': {
        let entry = next
        for (let i = node.items.length - 1; i >= 0; i--) entry = this.build(node.items[i]!, entry)
        return entry
      }
      case 'alt': {
        let entry = this.build(node.options[node.options.length - 1]!, next)
        for (let i = node.options.length - 2; i >= 0; i--) {
          entry = this.add({ kind: 'split', next: this.build(node.options[i]!, next), alt: entry })
        }
        return entry
      }
      case 'repeat': {
        let entry = next
        if (node.max === Number.POSITIVE_INFINITY) {
          // A loop: the split is patched once the body (which returns to it) exists.
          const loop = this.add({ kind: 'split', next: -1, alt: next })
          const body = this.build(node.node, loop)
          ;(this.states[loop] as { next: number }).next = body
          entry = loop
        } else {
          // Each optional copy may be skipped, straight to what follows the whole repetition.
          for (let i = node.max; i > node.min; i--) {
            entry = this.add({ kind: 'split', next: this.build(node.node, entry), alt: next })
          }
        }
        for (let i = 0; i < node.min; i++) entry = this.build(node.node, entry)
        return entry
      }
    }
  }
}

export interface LinearRegex {
  test(input: string): boolean
}

/** Compiles `source` with `flags` (any of "imsu"); throws UnsupportedRegex for what it refuses. */
export function compileLinearRegex(source: string, flags: string): LinearRegex {
  const f: Flags = {
    ignoreCase: flags.includes('i'),
    multiline: flags.includes('m'),
    dotAll: flags.includes('s'),
  }
  const tree = new Parser(source, f).parse()
  const compiler = new Compiler()
  const matchState = compiler.states.length
  compiler.states.push({ kind: 'match' })
  const start = compiler.build(tree, matchState)
  const { states } = compiler

  const holds = (what: Assertion, input: string, i: number): boolean => {
    const before = i > 0 ? input.charCodeAt(i - 1) : undefined
    const after = i < input.length ? input.charCodeAt(i) : undefined
    switch (what) {
      case 'start':
        return before === undefined || (f.multiline && isLineTerminator(before))
      case 'end':
        return after === undefined || (f.multiline && isLineTerminator(after))
      default: {
        const boundary = (before !== undefined && isWord(before)) !== (after !== undefined && isWord(after))
        return what === 'word' ? boundary : !boundary
      }
    }
  }

  return {
    test(input: string): boolean {
      // `seen[s] === generation` marks a state already in the set for this position.
      const seen = new Int32Array(states.length).fill(-1)
      let current: number[] = []
      let generation = 0
      // Adds `s` and every state reachable from it without consuming input; true on reaching the match.
      const addClosure = (list: number[], s0: number, i: number): boolean => {
        const stack = [s0]
        while (stack.length > 0) {
          const s = stack.pop()!
          if (seen[s] === generation) continue
          seen[s] = generation
          const st = states[s]!
          if (st.kind === 'match') return true
          if (st.kind === 'char') list.push(s)
          else if (st.kind === 'split') stack.push(st.alt, st.next)
          else if (holds(st.what, input, i)) stack.push(st.next)
        }
        return false
      }
      for (let i = 0; ; i++) {
        // Unanchored: a match may start at any position, so the start state joins every step.
        if (addClosure(current, start, i)) return true
        if (i === input.length) return false
        const c = input.charCodeAt(i)
        generation++
        const next: number[] = []
        for (const s of current) {
          const st = states[s] as { test: CharTest; next: number }
          if (st.test(c) && addClosure(next, st.next, i + 1)) return true
        }
        current = next
      }
    },
  }
}
