import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { LedgerRecord } from '../../../src/ledger/index.js'
import { loadPolicy } from '../../../src/policy/index.js'
import { judgeTags, ledgerAges, type TagFacts } from '../../../src/retention/index.js'
import { tempDir } from '../../supply/helpers.js'

const DAY = 86_400_000
const NOW = Date.parse('2026-12-01T00:00:00Z')
const rc = { name: 'rc', retention: { keep: { count: 1, within: { text: '10d', ms: 10 * DAY } } } }
const fact = (tag: string, daysOld?: number): TagFacts => ({
  tag,
  digest: `sha256:${'a'.repeat(64)}`,
  environment: rc,
  age: daysOld === undefined ? { source: 'none' } : { time: NOW - daysOld * DAY, source: 'annotation' },
})

describe('the keep rules', () => {
  it('keeps the count newest by SemVer (rc.10 > rc.2), those within the window, and what has no age', () => {
    const verdicts = judgeTags(
      [
        fact('1.0.0-rc.2', 50),
        fact('1.0.0-rc.10', 50),
        fact('1.0.0-rc.1', 5),
        fact('0.9.0-rc.1'),
        fact('0.8.0-rc.1', 40),
      ],
      { protect: [], untagged: 'keep', grace: undefined },
      NOW,
    )
    expect(Object.fromEntries(verdicts.map((v) => [v.tag, v.keep ? v.reason : 'delete']))).toEqual({
      '1.0.0-rc.10': 'count',
      '1.0.0-rc.2': 'delete',
      '1.0.0-rc.1': 'within',
      '0.9.0-rc.1': 'age-unknown',
      '0.8.0-rc.1': 'delete',
    })
  })

  it('holds a candidate younger than grace, and protect patterns win over every environment', () => {
    const count0 = { name: 'dev', retention: { keep: { count: 0 } } }
    const verdicts = judgeTags(
      [
        { ...fact('2.0.0-dev.1', 0.5), environment: count0 },
        { ...fact('2.0.0-dev.2', 3), environment: count0 },
        { ...fact('latest', 3), environment: count0 },
      ],
      { protect: ['latest'], untagged: 'keep', grace: { text: '24h', ms: DAY } },
      NOW,
    )
    expect(verdicts.map((v) => (v.keep ? v.reason : 'delete'))).toEqual(['grace', 'delete', 'protect'])
  })

  it('takes ages from the ledger: the latest promotion to DESTINATION:TAG, else of the digest', () => {
    const record = (
      time: string,
      destination: string,
      digest: string,
      verdict: LedgerRecord['verdict'] = 'promoted',
    ) => ({ time, destination, digest, verdict }) as LedgerRecord
    const ages = ledgerAges([
      record('2026-01-01T00:00:00Z', 'reg/app:v1', 'sha256:1'),
      record('2026-02-01T00:00:00Z', 'reg/app:v1', 'sha256:1'),
      record('2026-03-01T00:00:00Z', 'reg/app:v2', 'sha256:2', 'refused'),
    ])
    expect(ages.byDestination.get('reg/app:v1')).toBe(Date.parse('2026-02-01T00:00:00Z'))
    expect(ages.byDigest.get('sha256:1')).toBe(Date.parse('2026-02-01T00:00:00Z'))
    expect(ages.byDestination.has('reg/app:v2')).toBe(false)
  })
})

describe('retention rules in a policy file', () => {
  it('refuses what cannot be meant (an endless window, a fractional or negative count, a negative grace), with its position', async () => {
    const tmp = await tempDir('ferry-retention-rules-')
    try {
      const env = (retention: string) =>
        `version: 1\nenvironments:\n  - name: rc\n    match: { tags: { match: "*-rc.*" } }\n    retention: ${retention}\n`
      const cases = {
        within: env('{ keep: { within: 99999999999999999999d } }'),
        fraction: env('{ keep: { count: 1.5 } }'),
        negative: env('{ keep: { count: -5 } }'),
        grace: `${env('{ keep: { count: 1 } }')}retention: { grace: -1h }\n`,
      }
      for (const [name, text] of Object.entries(cases)) {
        const path = join(tmp.dir, `${name}.yaml`)
        await writeFile(path, text)
        await expect(loadPolicy(path), name).rejects.toMatchObject({
          code: 'USAGE',
          message: expect.stringMatching(
            new RegExp(`^${path}:\\d+:\\d+: (environments\\[0\\]\\.)?retention`),
          ),
        })
      }
    } finally {
      await tmp.remove()
    }
  })
})
