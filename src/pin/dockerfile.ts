/**
 * Where a Dockerfile names images (what `docker build` pulls), found on the lexed text
 * (dockerfile-lexer.ts) and rewritten in place:
 *
 *   FROM [--platform=…] IMAGE [AS NAME]   unless IMAGE is `scratch` or an earlier stage's name
 *   FROM $BASE / ${BASE}                  the default of `ARG BASE=IMAGE` before the first FROM
 *   COPY --from=IMAGE                     unless a stage's name or index
 *   RUN --mount=…,from=IMAGE,…            likewise
 *   # syntax=IMAGE                        the BuildKit frontend, pulled before anything else
 *
 * Stage names match without regard to case, as BuildKit matches them. What is chosen at build time (an
 * ARG with no default, an expression like `python:${VERSION}`) is reported and left alone, never guessed.
 */
import { flagCount, lexDockerfile, type Word } from './dockerfile-lexer.js'
import type { TextSite } from './sites.js'

export interface DockerfileSite {
  site: TextSite
  line: number
}

const VARIABLE = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/

/** A meta-argument (an ARG before the first FROM): its default as written, if it has one. */
type MetaArgs = Map<string, Word | undefined>

/** The part of `word` from character `from` on; a word broken over lines keeps its whole range. */
function tail(word: Word, from: number): Word {
  const text = word.text.slice(from)
  return word.contiguous
    ? { text, start: word.start + from, end: word.end, contiguous: true }
    : { text, start: word.start, end: word.end, contiguous: false }
}

/** The text inside one pair of quotes around the whole value, as the builder reads it. */
function unquoted(value: Word): Word | { problem: string } {
  const q = value.text[0]
  if ((q === '"' || q === "'") && value.text.length >= 2 && value.text.at(-1) === q) {
    const inner = tail({ ...value, text: value.text.slice(0, -1), end: value.end - 1 }, 1)
    if (!/["'\\`]/.test(inner.text)) return inner
  }
  if (/["'\\`]/.test(value.text)) return { problem: 'quoted or escaped in a way ferry does not rewrite' }
  return value
}

export function dockerfileSites(text: string): DockerfileSite[] {
  const { directives, instructions } = lexDockerfile(text)
  const lineOf = (offset: number) => {
    let line = 1
    for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++
    return line
  }
  const sites: DockerfileSite[] = []
  const add = (site: TextSite) => {
    if (!sites.some((s) => s.site.start === site.start)) sites.push({ site, line: lineOf(site.start) })
  }
  /** An image written at `value`, unless it is `scratch` or one of `stages`. */
  const image = (value: Word, at: string, stages: ReadonlySet<string>) => {
    const v = unquoted(value)
    const site: TextSite = { kind: 'text', at, start: value.start, end: value.end }
    if ('problem' in v) return add({ ...site, skip: `${v.problem}; left alone` })
    if (v.text.toLowerCase() === 'scratch' || stages.has(v.text.toLowerCase())) return
    if (v.text.includes('$'))
      return add({ ...site, skip: 'a build argument expression: resolved at build time, left alone' })
    if (!v.contiguous)
      return add({ ...site, error: 'the reference is broken over lines: write it on one line to pin it' })
    add({ ...site, start: v.start, end: v.end })
  }

  // Pinning the frontend is safe: BuildKit pulls it like a base image, before reading the rest (so a
  // closed site needs it inside just the same), reads the directive's value to the end of its line (a
  // longer reference stays one value), and a digest there is what Docker's docs recommend
  // (`# syntax=docker/dockerfile:1@sha256:…`). It goes through the same resolution and gate as FROM.
  const syntax = directives.find((d) => d.name === 'syntax')
  if (syntax) image(syntax.value, '# syntax', new Set())

  const firstFrom = instructions.findIndex((i) => i.keyword === 'FROM')
  const metaArgs: MetaArgs = new Map()
  for (const ins of firstFrom < 0 ? [] : instructions.slice(0, firstFrom)) {
    if (ins.keyword !== 'ARG') continue
    for (const word of ins.words) {
      const eq = word.text.indexOf('=')
      const name = eq < 0 ? word.text : word.text.slice(0, eq)
      // A later ARG without a value keeps the default an earlier one gave (BuildKit's buildMetaArgs).
      if (eq >= 0) metaArgs.set(name, tail(word, eq + 1))
      else if (!metaArgs.has(name)) metaArgs.set(name, undefined)
    }
  }

  const stageOf = (words: Word[]) => {
    const rest = words.slice(flagCount(words))
    return { base: rest[0], name: rest[1]?.text.toLowerCase() === 'as' ? rest[2]?.text.toLowerCase() : '' }
  }
  const froms = instructions.filter((i) => i.keyword === 'FROM')
  // --from may name any stage, before or after it; FROM only one before it.
  const allStages = new Set(froms.map((f) => stageOf(f.words).name ?? '').filter((n) => n))
  const earlier = new Set<string>()
  let label = ''
  for (const ins of firstFrom < 0 ? [] : instructions.slice(firstFrom)) {
    if (ins.keyword === 'FROM') {
      const { base, name } = stageOf(ins.words)
      label = `stage ${froms.indexOf(ins)}${name ? ` (${name})` : ''}`
      if (base) fromImage(base, `FROM of ${label}`)
      if (name) earlier.add(name)
      continue
    }
    const flags = ins.words.slice(0, flagCount(ins.words))
    if (ins.keyword === 'COPY')
      for (const f of flags.filter((w) => w.text.startsWith('--from=')))
        stageOrImage(tail(f, '--from='.length), `COPY --from in ${label}`)
    if (ins.keyword === 'RUN')
      for (const f of flags.filter((w) => w.text.startsWith('--mount='))) {
        const from = mountFrom(tail(f, '--mount='.length))
        if (from) stageOrImage(from, `RUN --mount from= in ${label}`)
      }
  }
  return sites.sort((a, b) => a.site.start - b.site.start)

  function fromImage(base: Word, at: string) {
    const m = VARIABLE.exec(base.text)
    if (!m) return image(base, at, earlier)
    const name = (m[1] ?? m[2])!
    const site: TextSite = { kind: 'text', at, start: base.start, end: base.end }
    if (!metaArgs.has(name))
      return add({ ...site, skip: `no ARG ${name} before the first FROM: the image is chosen at build time` })
    const value = metaArgs.get(name)
    if (!value?.text)
      return add({
        ...site,
        skip: `ARG ${name} has no default: the image is chosen at build time (--build-arg ${name}=…), not pinned`,
      })
    image(value, `ARG ${name}, ${at}`, earlier)
  }

  function stageOrImage(value: Word, at: string) {
    if (/^\d+$/.test(value.text)) return // a stage by index
    if (value.text.includes('$'))
      return add({
        kind: 'text',
        at,
        start: value.start,
        end: value.end,
        skip: 'a variable: BuildKit does not expand it here',
      })
    image(value, at, allStages)
  }
}

/** The `from=` field of a `--mount` value (comma-separated `key=value`, keys without case), if any. */
function mountFrom(value: Word): Word | undefined {
  const v = unquoted(value)
  if ('problem' in v) return undefined
  let at = 0
  for (const field of v.text.split(',')) {
    const eq = field.indexOf('=')
    if (eq > 0 && field.slice(0, eq).trim().toLowerCase() === 'from') {
      const part = tail(v, at + eq + 1)
      return {
        ...part,
        text: field.slice(eq + 1),
        end: part.contiguous ? part.start + field.length - eq - 1 : part.end,
      }
    }
    at += field.length + 1
  }
  return undefined
}
