/**
 * A Dockerfile read the way BuildKit's parser reads it (moby/buildkit frontend/dockerfile/parser), but
 * keeping where every word came from, so that an image can be rewritten in place and every other byte
 * stays: line endings, continuation lines, comments, heredoc bodies.
 *
 *   - parser directives (`# syntax=…`, `# escape=…`, `# check=…`) only at the very top, each once;
 *     the first other line (a comment, a blank line, an instruction) ends them;
 *   - a line ending in the escape character (`\`, or `` ` `` after `# escape=``), before optional
 *     blanks, continues on the next; comment lines and blank lines inside a continuation are dropped;
 *   - comments are whole lines whose first non-blank character is `#`;
 *   - RUN, COPY and ADD (also under ONBUILD), not in JSON form, may open heredocs (`<<EOF`, `<<-EOF`,
 *     `<<"EOF"`): their bodies follow the instruction and end at a line that is the word alone
 *     (after leading tabs, for `<<-`). Bodies are skipped, never read as instructions.
 */
import { FerryError } from '../errors.js'

/** A word of an instruction: what the builder reads, and where it is written. */
export interface Word {
  /** The word with continuation breaks removed; quotes and escapes as written. */
  text: string
  /** Source offsets of its first character and one past its last. */
  start: number
  end: number
  /** On one line, unbroken: `text` is exactly the source between start and end, so it can be replaced. */
  contiguous: boolean
}

export interface Instruction {
  /** Upper case: `FROM`, `ARG`, `COPY`. */
  keyword: string
  /** 1-based line of the keyword. */
  line: number
  /** The words after the keyword, split at blanks outside quotes: `--flag=…` words first. */
  words: Word[]
}

export interface Directive {
  /** Lower case: `syntax`, `escape`, `check`. */
  name: string
  value: Word
  line: number
}

export interface DockerfileText {
  directives: Directive[]
  instructions: Instruction[]
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/
const DIRECTIVES = new Set(['syntax', 'escape', 'check'])
const HEREDOC = /^(\d*)<<(-?)\s*([^<]*)$/
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD'])
const BLANK = /[\t\v\f\r ]/

/** One physical line: its content (without the line break) and where the next begins. */
interface PhysicalLine {
  start: number
  end: number
  next: number
}

function physicalLines(text: string): PhysicalLine[] {
  const lines: PhysicalLine[] = []
  // A byte-order mark is not part of the first line (BuildKit drops it).
  let pos = text.startsWith('\uFEFF') ? 1 : 0
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos)
    const next = nl < 0 ? text.length : nl + 1
    let end = nl < 0 ? text.length : nl
    while (end > pos && text[end - 1] === '\r') end--
    lines.push({ start: pos, end, next })
    pos = next
  }
  return lines
}

/** Characters of one logical line, each with its source offset. */
class Logical {
  chars = ''
  offsets: number[] = []
  append(text: string, start: number, end: number) {
    this.chars += text.slice(start, end)
    for (let i = start; i < end; i++) this.offsets.push(i)
  }
  word(from: number, to: number): Word {
    const start = this.offsets[from]!
    const end = this.offsets[to - 1]! + 1
    return { text: this.chars.slice(from, to), start, end, contiguous: end - start === to - from }
  }
}

const leadingBlanks = (text: string, start: number, end: number) => {
  let i = start
  while (i < end && /\s/.test(text[i]!)) i++
  return i
}

export function lexDockerfile(text: string): DockerfileText {
  const lines = physicalLines(text)
  const directives: Directive[] = []
  const instructions: Instruction[] = []
  let escapeChar = '\\'
  let directivesDone = false
  /** Where a line continued by the escape character (then blanks) stops, or -1 for a line that ends. */
  const continuation = (start: number, end: number) => {
    let i = end
    while (i > start && (text[i - 1] === ' ' || text[i - 1] === '\t')) i--
    if (i === start || text[i - 1] !== escapeChar) return -1
    // An escaped escape character (`\\`) does not continue the line; BuildKit's check is one character deep.
    if (i - 2 >= start && text[i - 2] === escapeChar) return -1
    return i - 1
  }

  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    const first = leadingBlanks(text, line.start, line.end)
    const content = text.slice(first, line.end)
    if (!directivesDone) {
      const m = DIRECTIVE.exec(content)
      const name = m ? m[1]!.toLowerCase() : ''
      if (m && DIRECTIVES.has(name) && !directives.some((d) => d.name === name)) {
        const valueStart = first + content.indexOf(m[2]!, content.indexOf('=') + 1)
        const value = { text: m[2]!, start: valueStart, end: valueStart + m[2]!.length, contiguous: true }
        directives.push({ name, value, line: n + 1 })
        if (name === 'escape') {
          if (m[2] !== '\\' && m[2] !== '`')
            throw syntaxError(n + 1, `invalid escape character ${m[2]}: only \\ or \``)
          escapeChar = m[2]
        }
        continue
      }
      directivesDone = true
    }
    if (content.startsWith('#') || content === '') continue

    const logical = new Logical()
    let cut = continuation(first, line.end)
    logical.append(text, first, cut < 0 ? line.end : cut)
    const keywordLine = n + 1
    while (cut >= 0 && n + 1 < lines.length) {
      const next = lines[++n]!
      const nextFirst = leadingBlanks(text, next.start, next.end)
      if (nextFirst === next.end || text[nextFirst] === '#') continue
      cut = continuation(next.start, next.end)
      logical.append(text, next.start, cut < 0 ? next.end : cut)
    }
    const instruction = split(logical, keywordLine, escapeChar)
    if (!instruction) continue
    instructions.push(instruction)
    for (const terminator of heredocs(instruction, logical.chars)) {
      let closed = false
      while (!closed && n + 1 < lines.length) {
        const body = lines[++n]!
        let candidate = text.slice(body.start, body.end)
        if (terminator.chomp) candidate = candidate.replace(/^\t+/, '')
        closed = candidate === terminator.name
      }
      if (!closed) throw syntaxError(keywordLine, `unterminated heredoc <<${terminator.name}`)
    }
  }
  return { directives, instructions }
}

function syntaxError(line: number, message: string): FerryError {
  return new FerryError('USAGE', `${line}: ${message}`)
}

/** The keyword and the words of a logical line: blanks separate words, except inside quotes or escaped. */
function split(logical: Logical, line: number, escapeChar: string): Instruction | undefined {
  const s = logical.chars
  const words: Word[] = []
  let i = 0
  while (i < s.length) {
    while (i < s.length && BLANK.test(s[i]!)) i++
    if (i >= s.length) break
    const start = i
    let quote = ''
    while (i < s.length && (quote || !BLANK.test(s[i]!))) {
      const c = s[i]!
      if (c === escapeChar && quote !== "'") i++
      else if (quote && c === quote) quote = ''
      else if (!quote && (c === '"' || c === "'")) quote = c
      i++
    }
    words.push(logical.word(start, Math.min(i, s.length)))
  }
  const keyword = words.shift()
  return keyword ? { keyword: keyword.text.toUpperCase(), line, words } : undefined
}

/** The heredocs an instruction opens, in order: what ends each body. */
function heredocs(instruction: Instruction, chars: string): { name: string; chomp: boolean }[] {
  let { keyword, words } = instruction
  if (keyword === 'ONBUILD' && words[0]) {
    keyword = words[0].text.toUpperCase()
    words = words.slice(1)
  }
  if (!HEREDOC_KEYWORDS.has(keyword) || !chars.includes('<<')) return []
  if (isJsonForm(words.slice(flagCount(words)))) return []
  return words.flatMap((w) => {
    const m = HEREDOC.exec(w.text)
    const name = m?.[3]?.replace(/["']/g, '')
    return m && name ? [{ name, chomp: m[2] === '-' }] : []
  })
}

/** How many words lead with `--` (BuildKit's builder flags: `--platform=…`, `--from=…`, `--mount=…`). */
export function flagCount(words: readonly Word[]): number {
  const i = words.findIndex((w) => !w.text.startsWith('--'))
  return i < 0 ? words.length : i
}

/** `RUN ["sh", "-c", "…"]`: a JSON array of strings is not shell form, and opens no heredoc. */
function isJsonForm(args: Word[]): boolean {
  const rest = args.map((w) => w.text).join(' ')
  if (!rest.startsWith('[')) return false
  try {
    const value: unknown = JSON.parse(rest)
    return Array.isArray(value) && value.every((v) => typeof v === 'string')
  } catch {
    return false
  }
}
