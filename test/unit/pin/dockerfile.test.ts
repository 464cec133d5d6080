import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dockerfileSites } from '../../../src/pin/dockerfile.js'
import { lexDockerfile } from '../../../src/pin/dockerfile-lexer.js'
import { pinEdits, readImage } from '../../../src/pin/images.js'
import { pin, registryNames } from '../../../src/pin/index.js'
import { applyEdits } from '../../../src/pin/splice.js'
import { testContext } from '../../helpers/context.js'
import { FIXTURES } from '../../pin/helpers.js'

const DIGEST = `sha256:${'ab'.repeat(32)}` as const

/** Each site as [line, at, what is written there, why it is left alone]. */
function sites(text: string) {
  return dockerfileSites(text).map(({ site, line }) => {
    const read = readImage(text, site)
    const why = 'skip' in read ? read.skip : 'error' in read ? read.error : ''
    return [line, site.at, read.written, why]
  })
}

/** The text with every image site pinned to reg.local/x:TAG@DIGEST. */
function pinned(text: string): string {
  const edits = dockerfileSites(text).flatMap(({ site }) => {
    const read = readImage(text, site)
    if (!('ref' in read)) return []
    return pinEdits(text, site, { registry: 'reg.local', repository: 'x', tag: read.ref.tag, digest: DIGEST })
  })
  return applyEdits(text, edits)
}
const PIN = (tag: string) => `reg.local/x:${tag}@${DIGEST}`

describe('Dockerfile lexer', () => {
  it('joins continuation lines, dropping comments and blank lines inside them, and keeps where each word is', () => {
    const text = 'FROM \\\n  # the base\n\n  python:3.12 \\\n  AS app\nRUN a \\\\\nRUN b\n'
    const { instructions } = lexDockerfile(text)
    expect(instructions.map((i) => [i.keyword, i.line, i.words.map((w) => w.text)])).toEqual([
      ['FROM', 1, ['python:3.12', 'AS', 'app']],
      // An escaped escape character ends the line: `RUN b` is an instruction of its own.
      ['RUN', 6, ['a', '\\\\']],
      ['RUN', 7, ['b']],
    ])
    const image = instructions[0]!.words[0]!
    expect(text.slice(image.start, image.end)).toBe('python:3.12')
    expect(image.contiguous).toBe(true)
  })

  it('skips heredoc bodies (<<EOF, <<-EOF with tabs, quoted names, several per line), and not in JSON form', () => {
    const text = [
      'FROM a',
      'RUN <<EOF',
      'FROM b',
      'EOF',
      'COPY <<-"ONE" /one <<TWO /two',
      '\tFROM c',
      '\tONE',
      'FROM d',
      'TWO',
      'RUN ["sh", "-c", "cat <<X"]',
      'FROM e',
      '',
    ].join('\n')
    expect(lexDockerfile(text).instructions.map((i) => `${i.keyword} ${i.words[0]!.text}`)).toEqual([
      'FROM a',
      'RUN <<EOF',
      'COPY <<-"ONE"',
      'RUN ["sh",',
      'FROM e',
    ])
    expect(() => lexDockerfile('FROM a\nRUN <<EOF\necho\n')).toThrow('2: unterminated heredoc <<EOF')
  })

  it('reads parser directives only at the top; # escape=` changes the continuation character', () => {
    const text = '# Escape=`\r\n#syntax = docker/dockerfile:1.7 \r\n\r\n# syntax=ignored\r\nFROM `\r\n  a\r\n'
    const { directives, instructions } = lexDockerfile(text)
    expect(directives.map((d) => [d.name, d.value.text, d.line])).toEqual([
      ['escape', '`', 1],
      ['syntax', 'docker/dockerfile:1.7', 2],
    ])
    const value = directives[1]!.value
    expect(text.slice(value.start, value.end)).toBe('docker/dockerfile:1.7')
    expect(instructions.map((i) => [i.keyword, i.words.map((w) => w.text)])).toEqual([['FROM', ['a']]])
  })
})

describe('Dockerfile image sites', () => {
  it('FROM with --platform and AS; later FROMs of a stage (any case), scratch and stage --from are not images', () => {
    const text = [
      'FROM --platform=$BUILDPLATFORM golang:1.22 AS Build',
      'FROM build AS test',
      'from BUILD',
      'FROM scratch',
      'COPY --from=test /a /a',
      'COPY --from=0 /a /a',
      'COPY --chown=1 --from=later /a /a',
      'COPY --from=alpine:3.19 /a /a',
      'RUN --mount=type=cache,target=/c,from=build --mount=type=bind,FROM=busybox:1,target=/b true',
      'FROM redis:7 AS later',
      '',
    ].join('\n')
    expect(sites(text)).toEqual([
      [1, 'FROM of stage 0 (build)', 'golang:1.22', ''],
      [8, 'COPY --from in stage 3', 'alpine:3.19', ''],
      [9, 'RUN --mount from= in stage 3', 'busybox:1', ''],
      [10, 'FROM of stage 4 (later)', 'redis:7', ''],
    ])
    expect(pinned(text)).toBe(
      text
        .replace('golang:1.22', PIN('1.22'))
        .replace('alpine:3.19', PIN('3.19'))
        .replace('busybox:1,', `${PIN('1')},`)
        .replace('redis:7', PIN('7')),
    )
  })

  it('ARG defaults before the first FROM are pinned once however many FROMs use them; what the build chooses is reported', () => {
    const text = [
      'ARG BASE="python:3.12-slim"',
      'ARG TOOLS=golang:1.22',
      'ARG TOOLS',
      'ARG RUNTIME',
      'ARG VERSION=3.12',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a template literal
      'FROM ${BASE} AS a',
      'FROM $BASE AS b',
      'FROM $TOOLS',
      'FROM $RUNTIME',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a template literal
      'FROM python:${VERSION}',
      'FROM $UNDECLARED',
      'ARG LATE=ignored:1',
      'FROM $LATE',
      '',
    ].join('\n')
    expect(sites(text)).toEqual([
      [1, 'ARG BASE, FROM of stage 0 (a)', 'python:3.12-slim', ''],
      [2, 'ARG TOOLS, FROM of stage 2', 'golang:1.22', ''],
      [
        9,
        'FROM of stage 3',
        '$RUNTIME',
        'ARG RUNTIME has no default: the image is chosen at build time (--build-arg RUNTIME=…), not pinned',
      ],
      [
        10,
        'FROM of stage 4',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile text, not a template literal
        'python:${VERSION}',
        'a build argument expression: resolved at build time, left alone',
      ],
      [
        11,
        'FROM of stage 5',
        '$UNDECLARED',
        'no ARG UNDECLARED before the first FROM: the image is chosen at build time',
      ],
      [
        13,
        'FROM of stage 6',
        '$LATE',
        'no ARG LATE before the first FROM: the image is chosen at build time',
      ],
    ])
    // Inside its quotes, which stay.
    expect(pinned(text).split('\n')[0]).toBe(`ARG BASE="${PIN('3.12-slim')}"`)
  })

  it('a reference broken over lines fails rather than be rewritten in pieces', () => {
    expect(sites('FROM pyth\\\non:3.12\n')).toEqual([
      [
        1,
        'FROM of stage 0',
        'pyth\\\non:3.12',
        'the reference is broken over lines: write it on one line to pin it',
      ],
    ])
  })

  it('# syntax names the frontend image; the fixture Dockerfile’s sites as the golden test expects them', async () => {
    const text = await readFile(join(FIXTURES, 'dockerfile', 'input', 'Dockerfile'), 'utf8')
    expect(sites(text).map(([line, at, written]) => [line, at, written])).toEqual([
      [1, '# syntax', 'docker/dockerfile:1'],
      [5, 'ARG BASE, FROM of stage 1 (base)', 'python:3.12-slim'],
      [8, 'FROM of stage 0 (build)', 'golang:1.22'],
      [22, 'COPY --from in stage 1 (base)', 'ghcr.io/acme/mini-api:1.0'],
      [23, 'RUN --mount from= in stage 1 (base)', 'postgres:16'],
      [34, 'FROM of stage 3 (custom)', '$RUNTIME'],
      [40, 'FROM of stage 5 (final)', 'python:3.12-slim'],
    ])
  })
})

describe('which files are Dockerfiles', () => {
  it('walks Dockerfile, Containerfile, Dockerfile.*, *.Dockerfile (not Dockerfile.dockerignore); a named file that starts as one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-pin-names-'))
    try {
      const names = [
        'Dockerfile',
        'Containerfile',
        'Dockerfile.prod',
        'api.Dockerfile',
        'Dockerfile.dockerignore',
      ]
      await mkdir(join(dir, 'tree'))
      for (const name of names) await writeFile(join(dir, 'tree', name), 'FROM alpine:3.19\n')
      await writeFile(join(dir, 'build.df'), '# the worker\nARG BASE=alpine:3.19\nFROM $BASE\n')
      // --check reads the files and contacts no registry.
      const check = (inputs: string[]) =>
        pin(testContext(), { inputs, names: registryNames('reg.local/cache', {}), check: true })
      const walked = await check([join(dir, 'tree')])
      expect(walked.files.map((f) => [f.file.slice(dir.length + 1), f.format, f.images[0]?.verdict])).toEqual(
        [
          ['tree/Containerfile', 'dockerfile', 'unpinned'],
          ['tree/Dockerfile', 'dockerfile', 'unpinned'],
          ['tree/Dockerfile.prod', 'dockerfile', 'unpinned'],
          ['tree/api.Dockerfile', 'dockerfile', 'unpinned'],
        ],
      )
      const named = await check([join(dir, 'build.df')])
      expect(named.files.map((f) => [f.format, f.images.map((i) => [i.at, i.before])])).toEqual([
        ['dockerfile', [['ARG BASE, FROM of stage 0', 'alpine:3.19']]],
      ])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
