import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isFerryError } from '../../../src/errors.js'
import { refNameFor, splitRefName } from '../../../src/layout/naming.js'
import { formatReference, parseReference, type Reference } from '../../../src/reference/index.js'

// Generators that follow distribution's grammar (reference/regexp.go) piece by piece.
const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/)
const separator = fc.constantFrom('.', '_', '__', '-', '--', '---')
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 2 }))
  .map(([head, tail]) => head + tail.map(([s, a]) => s + a).join(''))
const path = fc.array(pathComponent, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'))

const hostComponent = fc.stringMatching(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?$/)
const port = fc.integer({ min: 1, max: 65535 }).map((p) => `:${p}`)
const hostname = fc.array(hostComponent, { minLength: 2, maxLength: 3 }).map((c) => c.join('.'))
const ipv4 = fc.ipV4()
const ipv6 = fc
  .array(fc.stringMatching(/^[a-f0-9]{1,4}$/), { minLength: 2, maxLength: 8 })
  .map((g) => `[${g.join(':')}]`)
const domain = fc.oneof(
  fc
    .tuple(fc.oneof(hostname, ipv4, ipv6, fc.constant('localhost')), fc.option(port, { nil: '' }))
    .map(([h, p]) => h + p),
  fc.tuple(hostComponent, port).map(([h, p]) => h + p),
  fc.constantFrom('docker.io', 'index.docker.io'),
)
const tag = fc.oneof(fc.stringMatching(/^\w[\w.-]{0,20}$/), fc.stringMatching(/^\w[\w.-]{100,127}$/))
const digest = fc.oneof(
  fc.stringMatching(/^[a-f0-9]{64}$/).map((h) => `sha256:${h}`),
  fc.stringMatching(/^[a-f0-9]{128}$/).map((h) => `sha512:${h}`),
)

const validRegistryRef = fc
  .record({
    domain: fc.option(domain, { nil: undefined }),
    path,
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  // Without a host, a first component with a "." would be read as one: that is the grammar, not a case to test here.
  .filter((r) => r.domain !== undefined || !r.path.includes('/') || !r.path.split('/')[0]!.includes('.'))
  .map(
    (r) =>
      (r.domain ? `${r.domain}/` : '') +
      r.path +
      (r.tag ? `:${r.tag}` : '') +
      (r.digest ? `@${r.digest}` : ''),
  )

const layoutRefName = fc
  .array(
    fc
      .tuple(
        fc.stringMatching(/^[A-Za-z0-9]{1,5}$/),
        fc.array(
          fc.tuple(
            fc.constantFrom('-', '.', '_', ':', '@', '+', '--'),
            fc.stringMatching(/^[A-Za-z0-9]{1,5}$/),
          ),
          {
            maxLength: 2,
          },
        ),
      )
      .map(([h, t]) => h + t.map(([s, a]) => s + a).join('')),
    { minLength: 1, maxLength: 2 },
  )
  .map((c) => c.join('/'))
const layoutDir = fc.stringMatching(/^[./a-zA-Z0-9_-]{1,20}$/)
// A repository view: any ref name without "@" (naming.ts never splits one with "@"), and a tag that is
// both a distribution tag and a ref-name component.
const viewRepository = layoutRefName.filter((n) => !n.includes('@'))
const viewTag = fc.stringMatching(/^[A-Za-z0-9]{1,5}(?:[._-][A-Za-z0-9]{1,5}){0,2}$/)
const viewSelector = fc.oneof(
  fc.tuple(viewRepository, viewTag).map(([r, t]) => ({ repository: r, tag: t, text: `:${r}:${t}` })),
  fc.tuple(viewRepository, digest).map(([r, d]) => ({ repository: r, digest: d, text: `:${r}@${d}` })),
)
const validLayoutRef = fc
  .tuple(
    layoutDir,
    fc.oneof(
      fc.constant(''),
      layoutRefName.map((n) => `:${n}`),
      digest.map((d) => `@${d}`),
      viewSelector.map((v) => v.text),
    ),
  )
  .map(([dir, sel]) => `oci:${dir}${sel}`)

const validRef = fc.oneof(validRegistryRef, validLayoutRef)

/** What `formatReference` makes explicit: `:latest` when nothing else selects the image. */
function withDefaultTag(ref: Reference): Reference {
  if (ref.kind === 'registry' && ref.tag === undefined && !ref.digest) return { ...ref, tag: 'latest' }
  return ref
}

describe('reference properties', () => {
  it('parse ∘ format ∘ parse = parse (with the default tag made explicit), and format is idempotent', () => {
    fc.assert(
      fc.property(validRef, (input) => {
        const ref = parseReference(input)
        const formatted = formatReference(ref)
        expect(parseReference(formatted)).toEqual(withDefaultTag(ref))
        expect(formatReference(parseReference(formatted))).toBe(formatted)
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps what it was given: registry host, path and selectors', () => {
    fc.assert(
      fc.property(domain, path, fc.option(tag, { nil: undefined }), (d, p, t) => {
        const ref = parseReference(`${d}/${p}${t ? `:${t}` : ''}`)
        if (ref.kind !== 'registry') throw new Error('expected a registry reference')
        const hub = d === 'docker.io' || d === 'index.docker.io'
        expect(ref.registry).toBe(hub ? 'docker.io' : d)
        expect(ref.repository).toBe(hub && !p.includes('/') ? `library/${p}` : p)
        expect(ref.tag).toBe(t)
      }),
      { numRuns: 1000 },
    )
  })

  it('oci:DIR:REPO:TAG and oci:DIR:REPO@DIGEST name repository view REPO and format back as given', () => {
    fc.assert(
      fc.property(layoutDir, viewSelector, (dir, v) => {
        const { text, ...selector } = v
        const input = `oci:${dir}${text}`
        expect(parseReference(input)).toEqual({ kind: 'layout', path: dir, ...selector })
        expect(formatReference(parseReference(input))).toBe(input)
      }),
      { numRuns: 1000 },
    )
  })

  it('a name after oci:DIR: finds and writes the same ref.name as before views: the view naming.ts gives it', () => {
    // The contract for every oci:DIR:NAME accepted before repository views, except a name ending in
    // "@" and a digest (now REPO@DIGEST): the entry looked up and written is still the one whose
    // ref.name is NAME, and the view is the one src/layout/naming.ts files that entry under.
    const names = layoutRefName.filter((n) => !/@sha(256|512):/.test(n))
    fc.assert(
      fc.property(layoutDir, names, (dir, name) => {
        const ref = parseReference(`oci:${dir}:${name}`)
        if (ref.kind !== 'layout' || ref.tag === undefined) throw new Error('expected a tagged layout')
        const split = splitRefName(name)
        expect(ref.repository).toBe(split.repository)
        expect(ref.tag).toBe(split.tag)
        expect(refNameFor(ref.repository, ref.tag)).toBe(name)
      }),
      { numRuns: 2000 },
    )
  })

  const corruptions: fc.Arbitrary<string>[] = [
    // upper case in the repository path
    fc.tuple(path, fc.stringMatching(/^[A-Z]$/), fc.nat()).map(([p, u, i]) => {
      const at = i % (p.length + 1)
      return `reg.io/${p.slice(0, at)}${u}${p.slice(at)}`
    }),
    // empty path components
    fc.tuple(path, path).map(([a, b]) => `reg.io/${a}//${b}`),
    path.map((p) => `reg.io/${p}/`),
    // a character no part of the grammar allows
    fc
      .tuple(path, fc.constantFrom(' ', '!', '$', '%', '&', '*', '+', ',', ';', '=', '?', '#', '~'))
      .map(([p, c]) => `${p}${c}x`),
    // tags too long or badly started
    fc.tuple(path, fc.stringMatching(/^\w{129,140}$/)).map(([p, t]) => `${p}:${t}`),
    fc.tuple(path, fc.constantFrom('.', '-'), tag).map(([p, c, t]) => `${p}:${c}${t}`),
    // digests with the wrong length, case or algorithm
    fc.tuple(path, fc.stringMatching(/^[a-f0-9]{1,63}$/)).map(([p, h]) => `${p}@sha256:${h}`),
    fc
      .tuple(path, fc.stringMatching(/^[A-F0-9]{64}$/))
      .map(([p, h]) => `${p}@sha256:${h}`)
      .filter((s) => /[A-F]/.test(s)),
    fc.tuple(path, fc.stringMatching(/^[a-f0-9]{64}$/)).map(([p, h]) => `${p}@sha1:${h}`),
    // repository names over 255 characters
    fc.stringMatching(/^[a-z]{256,300}$/).map((n) => `reg.io/${n}`),
    // layout names skopeo refuses
    fc
      .tuple(fc.stringMatching(/^[a-z]{1,8}$/), fc.constantFrom(' x', '-x', 'x-', 'x//y', '', 'a::b'))
      .map(([d, n]) => `oci:${d}:${n}`),
    // a repository view pinned to a malformed digest
    fc
      .tuple(fc.stringMatching(/^[a-z]{1,8}$/), viewRepository, fc.stringMatching(/^[a-f0-9]{1,63}$/))
      .map(([d, r, h]) => `oci:${d}:${r}@sha256:${h}`),
  ]

  it('generated invalid references throw REFERENCE_INVALID', () => {
    fc.assert(
      fc.property(fc.oneof(...corruptions), (input) => {
        let caught: unknown
        try {
          parseReference(input)
        } catch (err) {
          caught = err
        }
        expect(isFerryError(caught, 'REFERENCE_INVALID'), `accepted ${JSON.stringify(input)}`).toBe(true)
        expect((caught as Error).message).toContain(JSON.stringify(input))
      }),
      { numRuns: 2000 },
    )
  })
})
