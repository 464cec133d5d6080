import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ferry } from '../helpers/cli.js'

describe('usage errors', { timeout: 120_000 }, () => {
  it.each([
    [['copy', '--bogus', 'a', 'b'], 'Nonexistent flag: --bogus (see ferry copy --help)'],
    [['copy', 'a'], 'missing required argument: destination (see ferry copy --help)'],
    [['copy', 'a', 'b', 'c'], 'Unexpected argument: c (see ferry copy --help)'],
    [
      ['copy', 'a', 'b', '--concurrency', 'x'],
      'Parsing --concurrency: Expected an integer but received: x (see ferry copy --help)',
    ],
    [['login', 'reg.example'], 'Missing required flag username (see ferry login --help)'],
    [['bundle', 'create', '--bogus'], 'Nonexistent flag: --bogus (see ferry bundle create --help)'],
  ])('%j: one line on stderr and exit 2, with and without --json', async (args, line) => {
    for (const json of [false, true]) {
      const r = await ferry(json ? [...args, '--json'] : args)
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toBe(`ferry: ${line}\n`)
    }
  })

  it('a reference with user:password@ is refused without echoing the password (sweep 2026-12, L12)', async () => {
    for (const json of [false, true]) {
      const args = ['digest', 'bob:pw5secret@127.0.0.1:25001/acme/api:v1']
      const r = await ferry(json ? [...args, '--json'] : args)
      expect(r.code).toBe(2)
      expect(r.stdout + r.stderr).not.toContain('pw5secret')
      expect(r.stdout + r.stderr).toContain('bob:[redacted]@127.0.0.1:25001/acme/api:v1')
    }
  })

  it('an error of several lines (a spec with two mistakes) prints them as lines; --json keeps the one string', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-usage-'))
    try {
      const spec = join(dir, 'mirror.yaml')
      await writeFile(
        spec,
        'version: 1\ntarget: localhost:5000/cache\nimages:\n  - source: acme/app:1\n    bogus: 1\n  - source: acme/web:1\n    platfroms: [linux/amd64]\n',
      )
      const human = await ferry(['sync', spec, '--dry-run'])
      expect(human.code).toBe(2)
      expect(human.stderr).toBe(
        [
          `ferry: ${spec}: 2 problems`,
          `  ${spec}:5:5: images[0].bogus: unknown field`,
          `  ${spec}:7:5: images[1].platfroms: unknown field`,
          '',
        ].join('\n'),
      )
      // A value the error echoes stays escaped, and a line in it cannot pose as one of ferry's own.
      const hostile = join(dir, 'hostile.yaml')
      await writeFile(
        hostile,
        'version: 1\ntarget: "bad\\e[2J\\nferry: all good"\nimages:\n  - source: acme/app:1\n    bogus: 1\n',
      )
      const escaped = await ferry(['sync', hostile, '--dry-run'])
      const lines = escaped.stderr.trimEnd().split('\n')
      expect(lines[0]).toBe(`ferry: ${hostile}: 2 problems`)
      expect(lines[1]).toBe(`  ${hostile}:2:9: target: invalid repository prefix "bad\\x1b[2J`)
      expect(lines[2]).toMatch(/^ {2}ferry: all good": /)
      expect(lines.at(-1)).toBe(`  ${hostile}:5:5: images[0].bogus: unknown field`)
      for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}\S/)
      expect(escaped.stderr).not.toContain('\u001b')
      const json = await ferry(['sync', spec, '--dry-run', '--json'])
      expect(json.code).toBe(2)
      expect(JSON.parse(json.stdout).error.message).toBe(
        `${spec}: 2 problems\n${spec}:5:5: images[0].bogus: unknown field\n${spec}:7:5: images[1].platfroms: unknown field`,
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
