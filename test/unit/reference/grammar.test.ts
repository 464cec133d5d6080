import { describe, expect, it } from 'vitest'
import type { Digest } from '../../../src/oci/digest.js'
import {
  cosignTag,
  cosignTags,
  isAttachmentTag,
  isDigestReference,
  isRefName,
  isRegistryHost,
  isRepositoryName,
  isTag,
  parseAttachmentTag,
  pathProblem,
  referrersTag,
  tagProblem,
} from '../../../src/reference/grammar.js'

const HEX = 'a'.repeat(64)
const HEX512 = 'b'.repeat(128)
const D: Digest = `sha256:${HEX}`
const D512: Digest = `sha512:${HEX512}`

describe('grammar: tags (distribution spec)', () => {
  it.each([
    '1',
    'v1.2.3',
    '_x',
    'latest',
    'V_1.x-y',
    'a'.repeat(128),
    `sha256-${HEX}.sig`,
  ])('%s is a tag', (t) => {
    expect(isTag(t)).toBe(true)
    expect(tagProblem(t)).toBeUndefined()
  })

  it.each<[string, string]>([
    ['', 'tag is empty'],
    ['a'.repeat(129), 'tag must be at most 128 characters (got 129)'],
    ['-x', 'tag must start with a letter, digit or "_" and contain only letters, digits, "_", "." and "-"'],
    ['.x', 'tag must start with a letter, digit or "_" and contain only letters, digits, "_", "." and "-"'],
    ['a:b', 'tag must start with a letter, digit or "_" and contain only letters, digits, "_", "." and "-"'],
    ['a/b', 'tag must start with a letter, digit or "_" and contain only letters, digits, "_", "." and "-"'],
    ['ä', 'tag must start with a letter, digit or "_" and contain only letters, digits, "_", "." and "-"'],
  ])('%j is refused: %s', (t, why) => {
    expect(isTag(t)).toBe(false)
    expect(tagProblem(t)).toBe(why)
  })
})

describe('grammar: repository paths', () => {
  it.each(['a', 'library/nginx', 'a__b/c-d--e/f.g_h', 'a/b/c/d', `a/${'b'.repeat(253)}`])('%s', (p) => {
    expect(isRepositoryName(p)).toBe(true)
    expect(pathProblem(p)).toBeUndefined()
  })

  it.each<[string, string]>([
    ['', 'repository name is empty'],
    ['a//b', 'repository name has an empty path component (leading, trailing or double "/")'],
    ['/a', 'repository name has an empty path component (leading, trailing or double "/")'],
    ['a/', 'repository name has an empty path component (leading, trailing or double "/")'],
    ['A/b', 'repository name must be lowercase'],
    [
      'a/b c',
      'invalid path component "b c": use lower-case letters and digits, separated by ".", "_", "__" or dashes',
    ],
    [
      'a/..',
      'invalid path component "..": use lower-case letters and digits, separated by ".", "_", "__" or dashes',
    ],
    [
      'a___b',
      'invalid path component "a___b": use lower-case letters and digits, separated by ".", "_", "__" or dashes',
    ],
    [`a/${'b'.repeat(254)}`, 'repository name must not be more than 255 characters (got 256)'],
  ])('%j is refused: %s', (p, why) => {
    expect(isRepositoryName(p)).toBe(false)
    expect(pathProblem(p)).toBe(why)
  })
})

describe('grammar: registry hosts', () => {
  it.each([
    'docker.io',
    'reg.local:5000',
    'localhost',
    '127.0.0.1:5000',
    '[::1]:5000',
    '[fe80::1]',
    'Reg.IO',
  ])('%s', (h) => expect(isRegistryHost(h)).toBe(true))
  it.each([
    '',
    'reg.io:port',
    '-reg.io',
    'reg-.io',
    'a..b',
    'https://reg.io',
    'reg.io/x',
    '[::1%eth0]',
  ])('%j is refused', (h) => expect(isRegistryHost(h)).toBe(false))
})

describe('grammar: layout ref names (skopeo)', () => {
  it.each([
    'v1',
    'library/postgres:16',
    'localhost:5000/foo:1',
    'Foo_Bar',
    'x@sha256:abc',
    'a--b',
  ])('%s', (n) => expect(isRefName(n)).toBe(true))
  it.each(['', 'a b', 'x//y', '-x', 'x:', '/x'])('%j is refused', (n) => expect(isRefName(n)).toBe(false))
})

describe('grammar: digest references', () => {
  it.each([D, D512, 'sha256:abc', 'sha512:'])('%s is meant as a digest', (r) =>
    expect(isDigestReference(r)).toBe(true))
  it.each(['latest', `sha256-${HEX}`, 'md5:abc', 'SHA256:abc'])('%s is not', (r) =>
    expect(isDigestReference(r)).toBe(false))
})

describe('grammar: attachment tags', () => {
  it.each<[string, ReturnType<typeof parseAttachmentTag>]>([
    [`sha256-${HEX}`, { subject: D, kind: 'index' }],
    [`sha256-${HEX}.sig`, { subject: D, kind: 'sig' }],
    [`sha256-${HEX}.att`, { subject: D, kind: 'att' }],
    [`sha256-${HEX}.sbom`, { subject: D, kind: 'sbom' }],
    [`sha512-${HEX512}`, { subject: D512, kind: 'index' }],
    [`sha512-${HEX512}.sig`, { subject: D512, kind: 'sig' }],
  ])('%s is about its digest', (tag, expected) => {
    expect(parseAttachmentTag(tag)).toEqual(expected)
    expect(isAttachmentTag(tag)).toBe(true)
  })

  it.each([
    'latest',
    `sha256-${HEX}.txt`,
    `sha256-${HEX.toUpperCase()}`,
    `sha256-${'a'.repeat(63)}`,
    // The hex must have its algorithm's length (bundle create used to hide 65 to 127 hex digits).
    `sha256-${'a'.repeat(65)}`,
    `sha256-${'a'.repeat(100)}.sig`,
    `sha256-${HEX512}`,
    `sha512-${HEX}`,
    `md5-${'a'.repeat(32)}`,
    `x-sha256-${HEX}`,
  ])('%s is an ordinary tag', (tag) => {
    expect(parseAttachmentTag(tag)).toBeUndefined()
    expect(isAttachmentTag(tag)).toBe(false)
  })

  it('makes the tags it recognises', () => {
    expect(referrersTag(D)).toBe(`sha256-${HEX}`)
    // The tag schema truncates the hex to 64 characters; cosign does not.
    expect(referrersTag(D512)).toBe(`sha512-${HEX512.slice(0, 64)}`)
    expect(cosignTag(D, 'sig')).toBe(`sha256-${HEX}.sig`)
    expect(cosignTags(D)).toEqual([`sha256-${HEX}.sig`, `sha256-${HEX}.att`, `sha256-${HEX}.sbom`])
    // (The sha512 tag-schema index tag keeps 64 of 128 hex digits: its subject cannot be read back.)
    expect(isTag(referrersTag(D512))).toBe(true)
    for (const tag of [referrersTag(D), ...cosignTags(D)]) {
      expect(isTag(tag)).toBe(true)
      expect(parseAttachmentTag(tag)).toBeDefined()
    }
    // cosign's sha512 tags are recognised, though 139 characters is over what a registry stores as a tag.
    expect(parseAttachmentTag(cosignTag(D512, 'sig'))).toEqual({ subject: D512, kind: 'sig' })
    expect(tagProblem(cosignTag(D512, 'sig'))).toBe('tag must be at most 128 characters (got 139)')
  })
})
