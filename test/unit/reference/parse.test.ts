import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import type { Digest } from '../../../src/oci/digest.js'
import {
  formatReference,
  manifestReference,
  parseReference,
  parseRegistryReference,
  parseRepository,
  type Reference,
  withDigest,
  withTag,
} from '../../../src/reference/index.js'
import { parseRegistryHost, parseRepositoryPrefix } from '../../../src/reference/prefix.js'

const D: Digest = `sha256:${'a'.repeat(64)}`
const D2: Digest = `sha512:${'b'.repeat(128)}`

function expectInvalid(fn: () => unknown, why: RegExp): void {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  expect(caught).toBeInstanceOf(FerryError)
  expect((caught as FerryError).code).toBe('REFERENCE_INVALID')
  expect((caught as FerryError).message).toMatch(why)
}

describe('parseReference: registry references', () => {
  it.each<[string, Reference]>([
    ['ubuntu', { kind: 'registry', registry: 'docker.io', repository: 'library/ubuntu' }],
    ['user/repo', { kind: 'registry', registry: 'docker.io', repository: 'user/repo' }],
    ['docker.io/ubuntu', { kind: 'registry', registry: 'docker.io', repository: 'library/ubuntu' }],
    [
      'index.docker.io/library/ubuntu:22.04',
      { kind: 'registry', registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04' },
    ],
    [
      'localhost:5000/a/b:tag',
      { kind: 'registry', registry: 'localhost:5000', repository: 'a/b', tag: 'tag' },
    ],
    ['localhost/x', { kind: 'registry', registry: 'localhost', repository: 'x' }],
    ['[::1]:5000/x', { kind: 'registry', registry: '[::1]:5000', repository: 'x' }],
    ['[fe80::1]/x/y', { kind: 'registry', registry: '[fe80::1]', repository: 'x/y' }],
    [`127.0.0.1:5000/x@${D}`, { kind: 'registry', registry: '127.0.0.1:5000', repository: 'x', digest: D }],
    [
      `quay.io/org/app:1.0@${D}`,
      { kind: 'registry', registry: 'quay.io', repository: 'org/app', tag: '1.0', digest: D },
    ],
    [`ghcr.io/a/b/c@${D2}`, { kind: 'registry', registry: 'ghcr.io', repository: 'a/b/c', digest: D2 }],
    ['Reg.Example.COM/x', { kind: 'registry', registry: 'Reg.Example.COM', repository: 'x' }],
    [
      'a__b/c-d--e/f.g_h:V_1.x-y',
      { kind: 'registry', registry: 'docker.io', repository: 'a__b/c-d--e/f.g_h', tag: 'V_1.x-y' },
    ],
    // As docker: one component means a Docker Hub official image, so "host:5000" alone is name + tag.
    [
      'localhost:5000',
      { kind: 'registry', registry: 'docker.io', repository: 'library/localhost', tag: '5000' },
    ],
    ['docker://nginx:1', { kind: 'registry', registry: 'docker.io', repository: 'library/nginx', tag: '1' }],
  ])('%s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected)
  })

  it('keeps tag undefined when absent, so callers can tell', () => {
    const ref = parseReference('nginx')
    expect(ref.tag).toBeUndefined()
    expect('tag' in ref).toBe(false)
  })
})

describe('parseReference: oci layouts', () => {
  it.each<[string, Reference]>([
    ['oci:out', { kind: 'layout', path: 'out' }],
    ['oci:./out:v1', { kind: 'layout', path: './out', tag: 'v1' }],
    ['oci:/abs/dir:Foo/Bar.1', { kind: 'layout', path: '/abs/dir', tag: 'Foo/Bar.1' }],
    [`oci:out@${D}`, { kind: 'layout', path: 'out', digest: D }],
    // As containers/image: everything after the first ":" is the ref name, "@" and ":" included.
    ['oci:out:v1@build', { kind: 'layout', path: 'out', tag: 'v1@build' }],
    ['oci:out:v1@build:2', { kind: 'layout', path: 'out', tag: 'v1@build:2' }],
    ['oci:my@dir:x', { kind: 'layout', path: 'my@dir', tag: 'x' }],
    ['oci:out:localhost:5000/app', { kind: 'layout', path: 'out', tag: 'localhost:5000/app' }],
    // A ref name REPO:TAG is tag TAG of repository view REPO (src/layout/naming.ts); the entry is the same.
    ['oci:out:a:b', { kind: 'layout', path: 'out', repository: 'a', tag: 'b' }],
    [
      'oci:./site:library/postgres:16',
      { kind: 'layout', path: './site', repository: 'library/postgres', tag: '16' },
    ],
    [
      'oci:out:localhost:5000/app:1',
      { kind: 'layout', path: 'out', repository: 'localhost:5000/app', tag: '1' },
    ],
    // What `bundle import --to oci:DIR` prints as `pinned`, and what a view's commands print.
    [`oci:out:v1@${D}`, { kind: 'layout', path: 'out', repository: 'v1', digest: D }],
    [
      `oci:./site:library/postgres@${D}`,
      { kind: 'layout', path: './site', repository: 'library/postgres', digest: D },
    ],
    [`oci:out:a:b@${D}`, { kind: 'layout', path: 'out', repository: 'a:b', digest: D }],
  ])('%s', (input, expected) => {
    expect(parseReference(input)).toEqual(expected)
    expect(formatReference(parseReference(input))).toBe(input)
  })
})

describe('parseReference: invalid input names the input and the rule', () => {
  it.each<[string, RegExp]>([
    ['', /reference is empty/],
    ['Nginx', /"Nginx".*repository name must be lowercase/],
    ['docker.io/Library/x', /must be lowercase/],
    ['User/repo', /must be lowercase/],
    ['a//b', /empty path component/],
    ['a/', /empty path component/],
    ['/a', /empty path component/],
    ['localhost:5000/', /repository name is empty/],
    ['nginx@sha256:abc', /invalid digest "sha256:abc"/],
    [`nginx@sha256:${'A'.repeat(64)}`, /invalid digest/],
    [`nginx@md5:${'a'.repeat(32)}`, /invalid digest/],
    [`nginx:${'a'.repeat(129)}`, /tag must be at most 128 characters \(got 129\)/],
    ['nginx:-bad', /tag must start with/],
    ['a/b:', /tag is empty/],
    [`reg.io/${'a'.repeat(256)}`, /must not be more than 255 characters/],
    ['reg.io:port/x', /invalid registry host "reg.io:port"/],
    ['-reg.io/x', /invalid registry host/],
    ['a/b c', /invalid path component "b c"/],
    ['a/b!/c', /invalid path component/],
    ['a@b@c', /invalid digest/],
    ['a'.repeat(64), /image ID/],
    ['dir:out', /dir transport is not supported/],
    ['oci-archive:x.tar', /oci-archive transport/],
    ['oci:', /layout directory is empty/],
    ['oci::tag', /layout directory is empty/],
    ['oci:out:', /image name after ":" is empty/],
    ['oci:out:a b', /invalid image name "a b"/],
    ['oci:out:-x', /invalid image name/],
    ['oci:out@sha256:abc', /invalid digest "sha256:abc"/],
    [`oci:out@sha256:${'a'.repeat(40)}`, /invalid digest/],
    ['oci:out:v1@sha256:abc', /invalid digest "sha256:abc"/],
    [`oci:out:library/postgres@sha512:${'a'.repeat(64)}`, /invalid digest/],
  ])('%j', (input, why) => {
    expectInvalid(() => parseReference(input), why)
  })
})

describe('formatReference', () => {
  it.each([
    ['nginx', 'docker.io/library/nginx:latest'],
    [`nginx@${D}`, `docker.io/library/nginx@${D}`],
    [`a/b:1@${D}`, `docker.io/a/b:1@${D}`],
    ['index.docker.io/x/y:2', 'docker.io/x/y:2'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
    ['oci:out', 'oci:out'],
  ])('%s → %s', (input, expected) => {
    expect(formatReference(parseReference(input))).toBe(expected)
  })
})

describe('helpers', () => {
  it('manifestReference prefers the digest, then the tag, then latest', () => {
    expect(manifestReference(parseReference(`a/b:1@${D}`))).toBe(D)
    expect(manifestReference(parseReference('a/b:1'))).toBe('1')
    expect(manifestReference(parseReference('a/b'))).toBe('latest')
    expect(manifestReference(parseReference('oci:out'))).toBe('latest')
    expect(manifestReference(parseReference(`oci:out@${D}`))).toBe(D)
  })

  it('withTag and withDigest return new values and validate', () => {
    const ref = parseRegistryReference('reg.io/app:1')
    const pinned = withDigest(ref, D)
    expect(pinned).toEqual({ ...ref, digest: D })
    expect(ref.digest).toBeUndefined()
    expect(withTag(pinned, '2')).toEqual({ ...ref, tag: '2', digest: D })
    expectInvalid(() => withTag(ref, 'bad tag'), /tag must start/)
    expectInvalid(() => withDigest(ref, 'sha256:nope'), /invalid digest/)

    // A layout selects by one of the two.
    const layout = parseReference('oci:out:v1')
    expect(withDigest(layout, D)).toEqual({ kind: 'layout', path: 'out', digest: D })
    expect(withTag(withDigest(layout, D), 'Mixed/Case')).toEqual({
      kind: 'layout',
      path: 'out',
      tag: 'Mixed/Case',
    })
  })

  it("withTag and withDigest keep a layout's repository view; its tags are distribution tags", () => {
    const view = parseReference('oci:site:library/postgres:16')
    expect(withDigest(view, D)).toEqual({
      kind: 'layout',
      path: 'site',
      repository: 'library/postgres',
      digest: D,
    })
    expect(formatReference(withTag(withDigest(view, D), '17'))).toBe('oci:site:library/postgres:17')
    expectInvalid(() => withTag(view, 'Mixed/Case'), /tag must start/)
  })

  it('parseRegistryReference refuses layouts', () => {
    expectInvalid(() => parseRegistryReference('oci:out:v1'), /"oci:out:v1": expected a registry reference/)
  })

  it('parseRepository refuses tags and digests', () => {
    expect(parseRepository('ubuntu')).toEqual({ registry: 'docker.io', repository: 'library/ubuntu' })
    expect(parseRepository('localhost:5000/a/b')).toEqual({ registry: 'localhost:5000', repository: 'a/b' })
    expectInvalid(() => parseRepository('ubuntu:22.04'), /without a tag or digest/)
    expectInvalid(() => parseRepository(`ubuntu@${D}`), /without a tag or digest/)
    expectInvalid(() => parseRepository('reg.local:5000'), /not a registry host alone/)
    expectInvalid(() => parseRepository('oci:out'), /expected a registry reference/)
  })
})

describe('registry hosts and repository prefixes', () => {
  it.each([
    ['reg.local:5000', 'reg.local:5000'],
    ['reg.local:5000/cache', 'reg.local:5000/cache'],
    ['reg.local:5000/cache/', 'reg.local:5000/cache'],
    ['docker.io/library/', 'docker.io/library'],
    ['index.docker.io/library', 'docker.io/library'],
    ['localhost/a/b', 'localhost/a/b'],
    ['[::1]:5000/x', '[::1]:5000/x'],
  ])('prefix %s → %s', (input, expected) => {
    expect(parseRepositoryPrefix(input)).toBe(expected)
  })

  it.each([
    ['library/', /must start with a registry host/],
    ['cache', /must start with a registry host/],
    ['reg.local:x/a', /invalid registry host/],
    ['reg.local//a', /empty path component/],
    ['reg.local/Cache', /invalid path component "Cache"/],
  ])('prefix %s is refused', (input, why) => {
    expectInvalid(() => parseRepositoryPrefix(input), why)
  })

  it('parses registry hosts', () => {
    expect(parseRegistryHost('index.docker.io')).toBe('docker.io')
    expect(parseRegistryHost('[fe80::1]:443')).toBe('[fe80::1]:443')
    expectInvalid(() => parseRegistryHost('https://reg.io'), /invalid registry host "https:\/\/reg.io"/)
  })
})

describe('parseReference: user:password@ in front of a reference (sweep 2026-12, L12)', () => {
  const messageOf = (fn: () => unknown): string => {
    try {
      fn()
    } catch (err) {
      expect(err).toBeInstanceOf(FerryError)
      expect((err as FerryError).code).toBe('REFERENCE_INVALID')
      return (err as Error).message
    }
    throw new Error('no error')
  }

  it.each<[string, string]>([
    ['bob:pw5@127.0.0.1:25001/acme/api:v1', 'invalid reference "bob:[redacted]@127.0.0.1:25001/acme/api:v1"'],
    ['bob:p/w5x@reg.io/acme/api', 'invalid reference "bob:[redacted]@reg.io/acme/api"'],
    ['bob:p@ss5@reg.io/acme/api:v1', 'invalid reference "bob:[redacted]@reg.io/acme/api:v1"'],
    [
      `docker://bob:pw5x@reg.io/acme/api@${D}`,
      `invalid reference "docker://bob:[redacted]@reg.io/acme/api@${D}"`,
    ],
  ])('%j: the password is not echoed, and the reason says where credentials go', (input, shown) => {
    const message = messageOf(() => parseReference(input))
    expect(message).not.toMatch(/pw5|p\/w5x|p@ss5|pw5x/)
    expect(message).toContain(shown)
    expect(message).toMatch(/ferry login|--creds/)
  })

  it('prefixes and hosts do not echo a password either', () => {
    expect(messageOf(() => parseRepositoryPrefix('bob:pw5x@reg.io/cache'))).not.toContain('pw5x')
    expect(messageOf(() => parseRegistryHost('bob:pw5x@reg.io'))).not.toContain('pw5x')
  })

  it('leaves a tag before a digest alone: that is no user:password', () => {
    expect(messageOf(() => parseReference('nginx:1.27@sha256:abc'))).toContain(
      'invalid reference "nginx:1.27@sha256:abc"',
    )
    expect(messageOf(() => parseReference('reg.io:5000/app:v1@sha256:abc'))).toContain(
      'invalid reference "reg.io:5000/app:v1@sha256:abc"',
    )
  })
})
