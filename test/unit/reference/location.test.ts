import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import type { Digest } from '../../../src/oci/digest.js'
import {
  canonicalName,
  formatLocation,
  formatReference,
  type Location,
  parseLocation,
  parsePrefixLocation,
  parseReference,
  parseRegistryLocation,
  parseRegistryReference,
  parseRepository,
} from '../../../src/reference/index.js'

const D: Digest = `sha256:${'a'.repeat(64)}`

function failure(fn: () => unknown): FerryError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    return err as FerryError
  }
  throw new Error('no error')
}

describe('parseLocation: every form', () => {
  it.each<[string, Location, string]>([
    // registries, docker-normalised
    [
      'nginx',
      { kind: 'registry', registry: 'docker.io', repository: 'library/nginx' },
      'docker.io/library/nginx:latest',
    ],
    [
      'localhost:5000/a/b:1',
      { kind: 'registry', registry: 'localhost:5000', repository: 'a/b', tag: '1' },
      'localhost:5000/a/b:1',
    ],
    [`reg.io/a@${D}`, { kind: 'registry', registry: 'reg.io', repository: 'a', digest: D }, `reg.io/a@${D}`],
    [
      'docker://nginx:1',
      { kind: 'registry', registry: 'docker.io', repository: 'library/nginx', tag: '1' },
      'docker.io/library/nginx:1',
    ],
    // a scheme: kept in the value, and the first component is the host whatever it looks like
    [
      'https://localhost:5000/a/b:1',
      { kind: 'registry', registry: 'localhost:5000', repository: 'a/b', tag: '1', scheme: 'https' },
      'https://localhost:5000/a/b:1',
    ],
    [
      'http://127.0.0.1:5000/app',
      { kind: 'registry', registry: '127.0.0.1:5000', repository: 'app', scheme: 'http' },
      'http://127.0.0.1:5000/app:latest',
    ],
    [
      `HTTPS://Reg.IO/app:v1@${D}`,
      { kind: 'registry', registry: 'Reg.IO', repository: 'app', tag: 'v1', digest: D, scheme: 'https' },
      `https://Reg.IO/app:v1@${D}`,
    ],
    [
      'https://myhost/app',
      { kind: 'registry', registry: 'myhost', repository: 'app', scheme: 'https' },
      'https://myhost/app:latest',
    ],
    [
      'https://index.docker.io/nginx',
      { kind: 'registry', registry: 'docker.io', repository: 'library/nginx', scheme: 'https' },
      'https://docker.io/library/nginx:latest',
    ],
    [
      'https://[::1]:5443/x',
      { kind: 'registry', registry: '[::1]:5443', repository: 'x', scheme: 'https' },
      'https://[::1]:5443/x:latest',
    ],
    // layouts (layout.ts)
    ['oci:out', { kind: 'layout', path: 'out' }, 'oci:out'],
    [
      'oci:./site:library/postgres:16',
      { kind: 'layout', path: './site', repository: 'library/postgres', tag: '16' },
      'oci:./site:library/postgres:16',
    ],
    [`oci:out@${D}`, { kind: 'layout', path: 'out', digest: D }, `oci:out@${D}`],
    // bundles: the image as the bundle's index names it, docker-normalised
    ['bundle:site.tar', { kind: 'bundle', path: 'site.tar' }, 'bundle:site.tar'],
    [
      'bundle:site.tar:postgres:16',
      { kind: 'bundle', path: 'site.tar', registry: 'docker.io', repository: 'library/postgres', tag: '16' },
      'bundle:site.tar:docker.io/library/postgres:16',
    ],
    [
      'bundle:/abs/site.tar:registry.intra/acme/api:v1.4.2',
      {
        kind: 'bundle',
        path: '/abs/site.tar',
        registry: 'registry.intra',
        repository: 'acme/api',
        tag: 'v1.4.2',
      },
      'bundle:/abs/site.tar:registry.intra/acme/api:v1.4.2',
    ],
    [
      `bundle:split.tar.parts.json:localhost:5000/app@${D}`,
      {
        kind: 'bundle',
        path: 'split.tar.parts.json',
        registry: 'localhost:5000',
        repository: 'app',
        digest: D,
      },
      `bundle:split.tar.parts.json:localhost:5000/app@${D}`,
    ],
    [
      'bundle:site.tar:reg.io/tools/cli',
      { kind: 'bundle', path: 'site.tar', registry: 'reg.io', repository: 'tools/cli' },
      'bundle:site.tar:reg.io/tools/cli:latest',
    ],
  ])('%s', (input, expected, formatted) => {
    expect(parseLocation(input)).toEqual(expected)
    expect(formatLocation(parseLocation(input))).toBe(formatted)
    expect(parseLocation(formatted)).toEqual(parseLocation(formatLocation(parseLocation(formatted))))
  })

  it('leaves the scheme out of names: formatReference and the canonical name', () => {
    const ref = parseReference('https://LOCALHOST:5000/a/b:1')
    expect(formatReference(ref)).toBe('LOCALHOST:5000/a/b:1')
    expect(canonicalName('https://LOCALHOST:5000/a/b:1')).toBe(canonicalName('localhost:5000/a/b:1'))
  })

  it('parseRepository keeps a spelled scheme, and only then has the field', () => {
    expect(parseRepository('https://reg.io:5443/team/app')).toEqual({
      registry: 'reg.io:5443',
      repository: 'team/app',
      scheme: 'https',
    })
    expect('scheme' in parseRepository('reg.io/team/app')).toBe(false)
  })
})

describe('parseLocation: every refusal, with its text', () => {
  it.each<[string, string]>([
    ['', 'invalid reference "": reference is empty'],
    ['https://', 'invalid reference "https://": after https:// comes HOST[:PORT]/REPO[:TAG|@DIGEST]'],
    [
      'https://reg.io',
      'invalid reference "https://reg.io": after https:// comes HOST[:PORT]/REPO[:TAG|@DIGEST]',
    ],
    [
      'http://reg.io:5000',
      'invalid reference "http://reg.io:5000": after http:// comes HOST[:PORT]/REPO[:TAG|@DIGEST]',
    ],
    [
      'https://reg.io/',
      'invalid reference "https://reg.io/": after https:// comes HOST[:PORT]/REPO[:TAG|@DIGEST]',
    ],
    ['https:///app', 'invalid reference "https:///app": after https:// comes HOST[:PORT]/REPO[:TAG|@DIGEST]'],
    [
      'https://reg io/app',
      'invalid reference "https://reg io/app": invalid registry host "reg io": expected HOST[:PORT], IPv4 or [IPv6]',
    ],
    [
      'https://reg.io/v2/app?n=1',
      'invalid reference "https://reg.io/v2/app?n=1": invalid path component "app?n=1": use lower-case letters and digits, separated by ".", "_", "__" or dashes',
    ],
    [
      'https://bob:pw5x@reg.io/app',
      'invalid reference "https://bob:[redacted]@reg.io/app": a reference has no user:password@ part; give credentials with ferry login, --creds or --creds-stdin',
    ],
    ['Nginx', 'invalid reference "Nginx": repository name must be lowercase'],
    [
      'dir:out',
      'invalid reference "dir:out": the dir transport is not supported (use oci:DIR, bundle:FILE or a registry)',
    ],
    ['oci:', 'invalid reference "oci:": the layout directory is empty (expected oci:DIR[:NAME|@DIGEST])'],
    ['bundle:', 'invalid reference "bundle:": the bundle file is empty (expected bundle:FILE[:IMAGE])'],
    [
      'bundle::app',
      'invalid reference "bundle::app": the bundle file is empty (expected bundle:FILE[:IMAGE])',
    ],
    ['bundle:site.tar:', 'invalid reference "bundle:site.tar:": image name after ":" is empty'],
    [
      'bundle:site.tar:https://reg.io/app',
      'invalid reference "bundle:site.tar:https://reg.io/app": name the image as the bundle does, without a scheme (bundle:FILE:HOST/REPO:TAG)',
    ],
    ['bundle:site.tar:App', 'invalid reference "bundle:site.tar:App": repository name must be lowercase'],
    [
      'bundle:site.tar:app@sha256:abc',
      'invalid reference "bundle:site.tar:app@sha256:abc": invalid digest "sha256:abc": expected sha256:<64 hex> or sha512:<128 hex>, lower case',
    ],
  ])('%j', (input, message) => {
    const err = failure(() => parseLocation(input))
    expect(err.code).toBe('REFERENCE_INVALID')
    expect(err.message).toBe(message)
  })
})

describe('where a location is narrowed', () => {
  it('parseReference (a destination) refuses a bundle in one line, USAGE (exit 2)', () => {
    const err = failure(() => parseReference('bundle:site.tar:app:1'))
    expect(err.code).toBe('USAGE')
    expect(err.message).toBe(
      'bundle:site.tar:app:1: a bundle is read-only, a source only; bundles are written by ferry bundle create',
    )
    expect(parseReference('https://reg.io/app:1')).toMatchObject({ kind: 'registry', scheme: 'https' })
  })

  it('parseRegistryReference refuses layouts and bundles', () => {
    expect(failure(() => parseRegistryReference('oci:out:v1')).message).toBe(
      'invalid reference "oci:out:v1": expected a registry reference, not an oci: layout',
    )
    expect(failure(() => parseRegistryReference('bundle:site.tar:app')).message).toBe(
      'invalid reference "bundle:site.tar:app": expected a registry reference, not a bundle',
    )
  })

  it.each<[string, ReturnType<typeof parseRegistryLocation>]>([
    ['reg.local:5000', { registry: 'reg.local:5000' }],
    ['index.docker.io', { registry: 'docker.io' }],
    ['https://127.0.0.1:5443', { registry: '127.0.0.1:5443', scheme: 'https' }],
    ['https://127.0.0.1:5443/', { registry: '127.0.0.1:5443', scheme: 'https' }],
    ['HTTP://[::1]:5000', { registry: '[::1]:5000', scheme: 'http' }],
  ])('registry host %s', (input, expected) => {
    expect(parseRegistryLocation(input)).toEqual(expected)
  })

  it.each<[string, string]>([
    [
      'https://reg.io/team',
      'invalid registry host "https://reg.io/team": after https:// comes HOST[:PORT] alone',
    ],
    ['https://', 'invalid registry host "https://": after https:// comes HOST[:PORT] alone'],
    [
      'reg.io:port',
      'invalid registry host "reg.io:port": expected HOST[:PORT], IPv4 or [IPv6], optionally with :PORT',
    ],
    [
      'https://bad host',
      'invalid registry host "bad host": expected HOST[:PORT], IPv4 or [IPv6], optionally with :PORT',
    ],
  ])('registry host %j is refused', (input, message) => {
    const err = failure(() => parseRegistryLocation(input))
    expect(err.code).toBe('REFERENCE_INVALID')
    expect(err.message).toBe(message)
  })

  it.each<[string, ReturnType<typeof parsePrefixLocation>]>([
    ['reg.local:5000', { kind: 'registry', registry: 'reg.local:5000', prefix: '' }],
    ['reg.local:5000/cache/', { kind: 'registry', registry: 'reg.local:5000', prefix: 'cache' }],
    [
      'https://reg.local:5443/cache',
      { kind: 'registry', registry: 'reg.local:5443', prefix: 'cache', scheme: 'https' },
    ],
    ['oci:./site', { kind: 'layout', path: './site' }],
  ])('prefix %s', (input, expected) => {
    expect(parsePrefixLocation(input)).toEqual(expected)
  })

  it('a prefix is never a bundle', () => {
    const err = failure(() => parsePrefixLocation('bundle:site.tar'))
    expect(err.code).toBe('USAGE')
    expect(err.message).toContain('bundles are written by ferry bundle create')
  })
})
