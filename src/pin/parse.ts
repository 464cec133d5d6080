/**
 * The files `ferry pin` reads, read: each deployment file's format, where it names images (sites.ts
 * for YAML, dockerfile.ts for Dockerfiles) with their lines, and for Compose the services built from a
 * Dockerfile, followed to it (compose-build.ts).
 */
import { readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { LineCounter, parseAllDocuments } from 'yaml'
import { FerryError, isFerryError } from '../errors.js'
import { type ComposeBuild, composeBuilds, followBuild } from './compose-build.js'
import { dockerfileSites } from './dockerfile.js'
import { lexDockerfile } from './dockerfile-lexer.js'
import { collectFiles, type InputFile, isDockerfileName, isYamlName } from './files.js'
import { detectFormat, type Format, findSites, type Site, siteNode } from './sites.js'

export interface ParsedFile {
  input: InputFile
  text: string
  format?: Format
  sites: { site: Site; line: number }[]
  /** Compose services with `build:`. */
  builds: ComposeBuild[]
}

/** Why a file is not read: the file, the line and column, and the parser's message. */
export type Unreadable = { reason: string }

/**
 * Reads `input` as a Dockerfile (by name, when `dockerfile` is set, or, for a file named on the command
 * line that is not YAML by name, when it starts as one) or else as YAML. A file named on the command line
 * that does not parse fails the run; one found in a directory is returned as unreadable.
 */
export async function parseFile(
  input: InputFile,
  opts: { anyImageKey: boolean; dockerfile?: boolean },
): Promise<ParsedFile | Unreadable> {
  const text = await readFile(input.path, 'utf8')
  const name = basename(input.relative)
  const dockerfile =
    opts.dockerfile ||
    isDockerfileName(name) ||
    (input.explicit && !isYamlName(name) && startsAsDockerfile(text))
  try {
    return dockerfile ? readDockerfile(input, text) : readYaml(input, text, opts.anyImageKey)
  } catch (err) {
    if (!isFerryError(err, 'USAGE')) throw err
    const reason = `${input.path}:${err.message}`
    if (input.explicit) throw new FerryError('USAGE', reason)
    return { reason }
  }
}

function readDockerfile(input: InputFile, text: string): ParsedFile {
  return { input, text, format: 'dockerfile', sites: dockerfileSites(text), builds: [] }
}

/** A first instruction of FROM or ARG: what a Dockerfile starts with, and no YAML file does. */
function startsAsDockerfile(text: string): boolean {
  try {
    const first = lexDockerfile(text).instructions[0]?.keyword
    return first === 'FROM' || first === 'ARG'
  } catch {
    return false
  }
}

function readYaml(input: InputFile, text: string, anyImageKey: boolean): ParsedFile {
  const lineCounter = new LineCounter()
  const docs = parseAllDocuments(text, { lineCounter })
  const bad = docs.flatMap((d) => d.errors)[0]
  if (bad) {
    const pos = lineCounter.linePos(bad.pos[0])
    // The parser's message repeats the position (" at line L, column C:") before a source excerpt.
    const message = bad.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
    throw new FerryError('USAGE', `${pos.line}:${pos.col}: ${message}`)
  }
  const lineOf = (node: { range?: [number, number, number] | null }) =>
    lineCounter.linePos(node.range![0]).line
  const format = detectFormat(basename(input.relative), docs)
  const sites = findSites(format, docs, anyImageKey).map((site) => ({ site, line: lineOf(siteNode(site)) }))
  sites.sort((a, b) => a.line - b.line)
  return { input, text, format, sites, builds: format === 'compose' ? composeBuilds(docs, lineOf) : [] }
}

/**
 * The files to read, read: the deployment files and the Dockerfiles their Compose services build from,
 * and under --out the rest of the tree, to be copied as it is so that the output is complete (a chart
 * installs). `built` has the report line of each Compose build.
 */
export async function readInputs(paths: readonly string[], opts: { out?: string; anyImageKey: boolean }) {
  const { out, anyImageKey } = opts
  const { files: inputs, ignored } = await collectFiles(paths, { everyFile: !!out, skip: out })
  const parsed: ParsedFile[] = []
  const copies: InputFile[] = []
  const unreadable = (input: InputFile, reason: string) =>
    ignored.push({ file: input.path, reason, ...(out ? { output: join(out, input.relative) } : {}) })
  for (const input of inputs) {
    const p = input.copy ? undefined : await parseFile(input, { anyImageKey })
    if (p && 'reason' in p) unreadable(input, p.reason)
    if (p && !('reason' in p) && (p.sites.length || p.builds.length || input.explicit)) parsed.push(p)
    else copies.push(input)
  }
  // Each Dockerfile a Compose service builds from, read once, whether the walk found it or not.
  const known = new Set(parsed.map((p) => p.input.real))
  const built = new Map<ComposeBuild, string>()
  for (const file of [...parsed]) {
    for (const b of file.builds) {
      const followed = await followBuild(file.input, b, known)
      built.set(b, followed.message)
      if (followed.ignored) ignored.push(followed.ignored)
      if (!followed.file) continue
      // Under --out the walk listed it to be copied (not a Dockerfile by name): it is read instead.
      const copy = copies.findIndex((c) => c.real === followed.file!.real)
      const input = copy >= 0 ? copies.splice(copy, 1)[0]! : followed.file
      const p = await parseFile(input, { anyImageKey, dockerfile: true })
      if (!('reason' in p)) parsed.push(p)
      else {
        unreadable(input, p.reason)
        if (out) copies.push(input)
      }
    }
  }
  return { inputs, parsed, copies, ignored, built }
}
