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
})
