import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import {
  compilePattern,
  missingTags,
  selectTags,
  type TagFilter,
  tagFilterSchema,
} from '../../../src/spec/tag-filter.js'
import { sortTags, tagVersion } from '../../../src/spec/tag-version.js'
import { loadYamlSpec } from '../../../src/spec/yaml.js'

describe('tagVersion', () => {
  it.each([
    ['1.4.2', '1.4.2'],
    ['v1.4.2', '1.4.2'],
    ['16', '16.0.0'],
    ['v1.4', '1.4.0'],
    ['3.12', '3.12.0'],
    ['2024.01.05', '2024.1.5'],
    ['v1.4.2-rc.1', '1.4.2-rc.1'],
    ['v1.4.2-rc1', '1.4.2-rc.1'],
    ['2.0-dev', '2.0.0-dev'],
    ['1.0-beta3', '1.0.0-beta.3'],
    ['3.13.0rc2', '3.13.0-rc.2'],
    ['1.0.0-RC.01', '1.0.0-rc.1'],
    ['1.4.2-rc.1-slim', '1.4.2-rc.1.slim'],
    ['3.12-slim', '3.12.0'],
    ['16-alpine3.19', '16.0.0'],
    ['16.2-bookworm', '16.2.0'],
    ['1.2.3-preview', '1.2.3-preview'],
  ])('%s → %s', (tag, version) => {
    expect(tagVersion(tag)?.version).toBe(version)
  })

  it.each([
    'latest',
    'sha-1a2b3c',
    'main',
    '1.2.3.4',
    '1.2.3_1',
    '16alpine',
    'V1.2',
    'v',
    '',
  ])('%s has no version', (tag) => {
    expect(tagVersion(tag)).toBeNull()
  })

  it('sorts versions highest first, prereleases below their release, then the rest lexically', () => {
    expect(
      sortTags([
        'latest',
        '1.0.0-rc.2',
        '1.0.0',
        '1.0.0-rc.10',
        'edge',
        '0.9',
        '1.0.0-alpine',
        '2',
        '1.0.0-rc.2',
      ]),
    ).toEqual([
      '2',
      '1.0.0',
      '1.0.0-alpine',
      '1.0.0-rc.10',
      '1.0.0-rc.2',
      '1.0.0-rc.2',
      '0.9',
      'edge',
      'latest',
    ])
  })
})

const postgres = [
  'latest',
  '15',
  '15.6',
  '15.7',
  '16',
  '16.2',
  '16.3',
  '16.3-alpine',
  '16.4',
  '16.4-bookworm',
  '17.0',
  '17-rc1',
  '16.5-rc.1',
  'sha-deadbeef',
  'nightly',
]

function select(filter: TagFilter, available = postgres): string[] {
  return selectTags(available, tagFilterSchema.parse(filter))
}

describe('selectTags', () => {
  it('tags: exact names, only those the repository has', () => {
    expect(select({ tags: ['latest', '16', 'nope'] })).toEqual(['16', 'latest'])
    expect(missingTags(postgres, tagFilterSchema.parse({ tags: ['latest', 'nope'] }))).toEqual(['nope'])
  })

  it('match: a glob, whole tag', () => {
    expect(select({ match: '16.?' })).toEqual(['16.4', '16.3', '16.2'])
    expect(select({ match: '*-alpine' })).toEqual(['16.3-alpine'])
    expect(select({ match: '16' })).toEqual(['16'])
  })

  it('match: a /regex/, unanchored, with flags', () => {
    expect(select({ match: '/^16\\.\\d+$/' })).toEqual(['16.4', '16.3', '16.2'])
    expect(select({ match: '/BOOKWORM/i' })).toEqual(['16.4-bookworm'])
    expect(select({ match: '/dead/' })).toEqual(['sha-deadbeef'])
  })

  it('semver: a range over versions; prereleases only when the range names one', () => {
    expect(select({ semver: '>=16 <17' })).toEqual([
      '16.4',
      '16.4-bookworm',
      '16.3',
      '16.3-alpine',
      '16.2',
      '16',
    ])
    expect(select({ semver: '>=16.5.0-rc.0 <17' })).toEqual(['16.5-rc.1'])
    expect(select({ semver: '^17.0.0-rc.0' })).toEqual(['17.0', '17-rc1'])
  })

  it('newest: the N highest of what the other rules selected', () => {
    expect(select({ semver: '>=16 <17', newest: 2 })).toEqual(['16.4', '16.4-bookworm'])
    expect(select({ semver: '>=16 <17', exclude: ['*-*'], newest: 2 })).toEqual(['16.4', '16.3'])
    expect(select({ match: '16.*', newest: 1 })).toEqual(['16.5-rc.1'])
  })

  it('newest alone ranks released versions only', () => {
    expect(select({ newest: 3 })).toEqual(['17.0', '16.4', '16.4-bookworm'])
  })

  it('exclude: removes pattern selections, never exact names', () => {
    expect(select({ semver: '15', exclude: ['15.6', '/^15$/'] })).toEqual(['15.7'])
    expect(select({ tags: ['16.3-alpine'], match: '16.*', exclude: ['*-*'] })).toEqual([
      '16.4',
      '16.3',
      '16.3-alpine',
      '16.2',
    ])
  })

  it('match and semver must both hold', () => {
    expect(select({ match: '*-*', semver: '>=16 <17' })).toEqual(['16.4-bookworm', '16.3-alpine'])
  })

  it('is deterministic whatever the input order, and drops duplicates', () => {
    const shuffled = [...postgres].reverse().concat(postgres)
    expect(select({ semver: '>=15' }, shuffled)).toEqual(select({ semver: '>=15' }))
  })

  it('selects nothing from an empty repository', () => {
    expect(select({ newest: 5, tags: ['a'] }, [])).toEqual([])
  })
})

describe('selectTags properties', () => {
  const tagArb = fc.oneof(
    fc.stringMatching(/^v?\d{1,2}(\.\d{1,2}){0,2}(-(rc|beta|dev|alpine|slim)\d?)?$/),
    fc.stringMatching(/^[a-z][a-z0-9-]{0,6}$/),
  )
  const filterArb = fc.record(
    {
      tags: fc.array(tagArb, { minLength: 1, maxLength: 3 }),
      match: fc.constantFrom('*', '1*', '*-*', '/^v/', '?.?'),
      semver: fc.constantFrom('*', '>=1', '<10', '^2.0.0-rc.0', '1.x || >=5'),
      newest: fc.integer({ min: 1, max: 5 }),
      exclude: fc.array(fc.constantFrom('*-rc*', '1.*', '/beta/'), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  )

  it('selects only available tags, sorted, the same for any input order, newest bounded', () => {
    fc.assert(
      fc.property(fc.array(tagArb, { maxLength: 30 }), filterArb, fc.nat(), (available, raw, seed) => {
        const parsed = tagFilterSchema.safeParse(raw)
        fc.pre(parsed.success)
        const filter = parsed.data!
        const out = selectTags(available, filter)
        expect(out.every((t) => available.includes(t))).toBe(true)
        expect(new Set(out).size).toBe(out.length)
        expect(sortTags(out)).toEqual(out)
        const rotated = available
          .slice(seed % (available.length || 1))
          .concat(available.slice(0, seed % (available.length || 1)))
        expect(selectTags(rotated, filter)).toEqual(out)
        if (filter.newest !== undefined) {
          const explicit = new Set(filter.tags ?? [])
          expect(out.filter((t) => !explicit.has(t)).length).toBeLessThanOrEqual(filter.newest)
        }
      }),
      { numRuns: 500 },
    )
  })
})

describe('hostile patterns and tags', () => {
  const elapsed = (f: () => unknown) => {
    const t0 = performance.now()
    f()
    return performance.now() - t0
  }

  it('a nested-quantifier regex against a long non-matching tag answers in milliseconds', () => {
    const tag = `${'a'.repeat(34)}!`
    const ms = elapsed(() => expect(select({ match: '/^(a+)+$/' }, [tag, 'aaa'])).toEqual(['aaa']))
    expect(ms).toBeLessThan(500)
    // Past any tag's length too: the work grows with the input, never with the ways to split it.
    const long = `${'a'.repeat(100_000)}b`
    expect(elapsed(() => expect(compilePattern('/^(a+)+$/')(long)).toBe(false))).toBeLessThan(500)
  })

  it('stacked and oversized repetitions are refused, not expanded', () => {
    const refused = (p: string) => () => compilePattern(p)
    expect(refused('/a{1,99999}{1,99999}{1,99999}/')).toThrow(/invalid tag pattern.*Nothing to repeat/)
    expect(refused('/(a{1000}){1000}/')).toThrow(/repetition counts above 1000 are not supported/)
    expect(refused(`/${Array.from({ length: 20 }, (_, i) => `${i}[a-z]{1000}`).join('|')}/`)).toThrow(
      /the pattern is too large/,
    )
  })

  it('the glob *a*a*a*a*a*b against a 128-character tag answers in milliseconds', () => {
    const tag = 'a'.repeat(128)
    const ms = elapsed(() =>
      expect(select({ match: '*a*a*a*a*a*b', exclude: ['*a*a*a*a*a*a*a*a*c'] }, [tag, 'aaaaab'])).toEqual([
        'aaaaab',
      ]),
    )
    expect(ms).toBeLessThan(500)
  })

  it('tag regexes (RE2) agree with JavaScript on random patterns and tags', () => {
    const atom = fc.constantFrom(
      'a',
      'b',
      '.',
      '[ab]',
      '[^a]',
      '[a-c]',
      '\\d',
      '\\w',
      '\\.',
      '-',
      '1',
      'A',
      // Escapes RE2 reads otherwise, classes JavaScript reads otherwise: written in RE2's terms first.
      '\\A',
      '\\z',
      '\\Q',
      '\\E',
      '\\a',
      '\\x{41}',
      '\\u0041',
      '\\x41',
      '[[:alpha:]]',
      '[]',
      '[^]',
      '\\B',
      '[\\b]',
    )
    const piece: fc.Arbitrary<string> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        atom,
        fc
          .tuple(tie('node'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '{0,}', '*?'))
          .map(([n, q]) => `(${n})${q}`),
        fc.tuple(tie('node'), tie('node')).map(([x, y]) => `${x}${y}`),
        fc.tuple(tie('node'), tie('node')).map(([x, y]) => `(?:${x}|${y})`),
      ),
    })).node
    const regex = fc.tuple(
      fc.constantFrom('', '^'),
      piece,
      fc.constantFrom('', '$', '\\b'),
      fc.constantFrom('', 'i'),
    )
    const tag = fc.stringMatching(/^[abcA1.-]{0,8}$/)
    fc.assert(
      fc.property(regex, fc.array(tag, { maxLength: 5 }), ([pre, body, post, flags], tags) => {
        const source = `${pre}${body}${post}`
        let ours: (tag: string) => boolean
        try {
          ours = compilePattern(`/${source}/${flags}`)
        } catch (err) {
          // RE2's one refusal JavaScript has no counterpart for (tested above): nested counts multiply,
          // and `\x{41}` is x{41} to JavaScript, so three nested {1,3} around it make 1,107.
          fc.pre(!/repetition counts above 1000 are not supported/.test((err as Error).message))
          throw err
        }
        const theirs = new RegExp(source, flags)
        for (const t of tags) expect([source, t, ours(t)]).toEqual([source, t, theirs.test(t)])
      }),
      { numRuns: 2000 },
    )
  })

  it('globs keep their meaning: * any run, ? one character, whole tag', () => {
    const m = (g: string, t: string) => compilePattern(g)(t)
    expect([
      m('*', ''),
      m('a*', 'a'),
      m('a*b', 'aXXb'),
      m('a*b', 'aXXbc'),
      m('?', ''),
      m('a?c', 'abc'),
    ]).toEqual([true, true, true, false, false, true])
    expect([m('*-*', 'x-'), m('**a', 'ba'), m('*a*', 'bbb'), m('1.*', '1x2')]).toEqual([
      true,
      true,
      false,
      false,
    ])
  })
})

describe('tagFilterSchema', () => {
  const check = (yaml: string) => () => loadYamlSpec(yaml, tagFilterSchema, 'f.yaml')

  it.each([
    ['{}\n', /^f\.yaml:1:1: selects no tags/],
    ['semver: "not a range"\n', /^f\.yaml:1:9: semver: not a valid SemVer range/],
    ['semver: 16\n', /^f\.yaml:1:9: semver: expected a string, got 16 \(quote it: "16"\)/],
    ['match: "/(/"\n', /^f\.yaml:1:8: match: Invalid regular expression/],
    ['match: "/x/g"\n', /match: regex flags g and y are not allowed/],
    ['match: "a b"\n', /match: a glob may hold tag characters/],
    ['newest: 0\n', /^f\.yaml:1:9: newest: Too small/],
    ['newest: 1.5\n', /newest: expected int/],
    ['tags: ["-x"]\n', /^f\.yaml:1:8: tags\[0\]: tag must start/],
    ['tags: []\n', /tags: Too small/],
    ['newest: 1\nregex: x\n', /^f\.yaml:2:1: regex: unknown field/],
    ['newest: 1\nexclude:\n  - ok\n  - "/[/"\n', /^f\.yaml:4:5: exclude\[1\]: Invalid regular expression/],
    [
      'newest: 1\nexclude:\n  - "/(a)\\\\1/"\n',
      /^f\.yaml:3:5: exclude\[0\]: \/\(a\)\\1\/: backreferences are not supported \(tag regexes run in linear time\)$/,
    ],
    [
      'match: "/^v(?!1)/"\n',
      /^f\.yaml:1:8: match: \/\^v\(\?!1\)\/: lookahead and lookbehind are not supported/,
    ],
    ['match: "/(?<=v)1/"\n', /^f\.yaml:1:8: match: .*lookahead and lookbehind are not supported/],
    ['match: "/(?<!v)1/"\n', /^f\.yaml:1:8: match: .*lookahead and lookbehind are not supported/],
    ['match: "/(?<n>a)\\\\k<n>/"\n', /match: .*backreferences are not supported/],
    ['match: "/\\\\p{L}/u"\n', /match: .*the escape \\p is not supported in tag regexes/],
    [
      'match: "/a{2000}/"\n',
      /^f\.yaml:1:8: match: \/a\{2000\}\/: repetition counts above 1000 are not supported/,
    ],
    ['match: "/x/d"\n', /match: regex flag d is not supported/],
  ])('%j is refused', (yaml, why) => {
    expect(check(yaml)).toThrow(why)
  })

  it('accepts every rule together', () => {
    expect(check('tags: [latest]\nmatch: "1.*"\nsemver: ">=1"\nnewest: 2\nexclude: ["*-rc*"]\n')()).toEqual({
      tags: ['latest'],
      match: '1.*',
      semver: '>=1',
      newest: 2,
      exclude: ['*-rc*'],
    })
  })

  it('compilePattern refuses what the schema refuses', () => {
    expect(() => compilePattern('/x/y')).toThrow(FerryError)
    expect(compilePattern('1.?')('1.x')).toBe(true)
    expect(compilePattern('1.?')('12x')).toBe(false)
  })
})
