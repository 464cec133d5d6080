import { describe, expect, it } from 'vitest'
import { acceptsMediaType } from '../../../src/serve/accept.js'
import { ApiError } from '../../../src/serve/errors.js'
import { paginate } from '../../../src/serve/listing.js'
import { parseRequest } from '../../../src/serve/routes.js'

const D = `sha256:${'a'.repeat(64)}`

describe('parseRequest', () => {
  it.each([
    ['GET', '/v2/', { kind: 'base' }],
    ['GET', '/v2', { kind: 'base' }],
    ['GET', '/v2/_catalog?n=1', { kind: 'catalog' }],
    ['GET', '/v2/a/b/tags/list', { kind: 'tags', name: 'a/b' }],
    ['GET', '/v2/a/manifests/v1.0_rc-1', { kind: 'manifest', name: 'a', tag: 'v1.0_rc-1' }],
    ['PUT', `/v2/a/manifests/${D}`, { kind: 'manifest', name: 'a', digest: D }],
    ['GET', `/v2/a/manifests/sha256%3A${'a'.repeat(64)}`, { kind: 'manifest', name: 'a', digest: D }],
    ['GET', `/v2/a/blobs/${D}`, { kind: 'blob', name: 'a', digest: D }],
    // A repository may be named after an endpoint word; the endpoint is matched from the end.
    ['GET', `/v2/x/blobs/blobs/${D}`, { kind: 'blob', name: 'x/blobs', digest: D }],
    ['GET', '/v2/x/manifests/tags/list', { kind: 'tags', name: 'x/manifests' }],
    ['POST', '/v2/a/b/blobs/uploads/', { kind: 'uploads', name: 'a/b' }],
    ['POST', '/v2/a/b/blobs/uploads', { kind: 'uploads', name: 'a/b' }],
    [
      'PATCH',
      '/v2/a/blobs/uploads/0f8fad5b-d9cb-469f-a165-70867728950e',
      { kind: 'upload', name: 'a', id: '0f8fad5b-d9cb-469f-a165-70867728950e' },
    ],
    ['GET', `/v2/a/referrers/${D}`, { kind: 'referrers', name: 'a', digest: D }],
    ['GET', '/v2/a__b/c.d/e--f/tags/list', { kind: 'tags', name: 'a__b/c.d/e--f' }],
  ])('%s %s', (method, url, route) => {
    expect(parseRequest(method, url).route).toEqual(route)
  })

  it.each([
    ['GET', '/v2/a/%2e%2e/b/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/a%2Fb/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/../x/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2//x/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/x/../y/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/a\\b/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/a__-b/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/a/-b/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/Upper/tags/list', 'NAME_INVALID', 400],
    ['GET', `/v2/${'a/'.repeat(128)}a/tags/list`, 'NAME_INVALID', 400],
    ['GET', 'http://evil/v2/a/tags/list', 'NAME_INVALID', 400],
    ['GET', '/v2/a/manifests/sha256:short', 'DIGEST_INVALID', 400],
    ['GET', '/v2/a/blobs/md5:abc', 'DIGEST_INVALID', 400],
    ['GET', '/v2/a/manifests/.hidden', 'MANIFEST_UNKNOWN', 404],
    ['PUT', '/v2/a/manifests/.hidden', 'MANIFEST_INVALID', 400],
    ['GET', `/v2/a/manifests/${'t'.repeat(129)}`, 'MANIFEST_UNKNOWN', 404],
    ['PATCH', '/v2/a/blobs/uploads/not-a-uuid', 'BLOB_UPLOAD_UNKNOWN', 404],
    ['GET', '/v1/_ping', 'UNSUPPORTED', 404],
    ['GET', '/v2/a', 'UNSUPPORTED', 404],
  ])('%s %s → %s', (method, url, code, status) => {
    let caught: unknown
    try {
      parseRequest(method, url)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(ApiError)
    expect((caught as ApiError).code).toBe(code)
    expect((caught as ApiError).status).toBe(status)
  })
})

describe('acceptsMediaType', () => {
  const oci = 'application/vnd.oci.image.index.v1+json'
  it.each([
    [undefined, true],
    ['', true],
    ['*/*', true],
    ['application/*', true],
    ['text/*', false],
    [oci, true],
    [`application/json, ${oci.toUpperCase()}`, true],
    [`${oci};q=0`, false],
    [`${oci};q=0.0, */*;q=0.1`, true],
    ['application/vnd.docker.distribution.manifest.list.v2+json', false],
  ])('Accept %s', (header, ok) => {
    expect(acceptsMediaType(header, oci)).toBe(ok)
  })
})

describe('paginate', () => {
  const items = ['a', 'b', 'c', 'd']
  const q = (s: string) => new URLSearchParams(s)
  it('returns everything without n', () => {
    expect(paginate(items, q(''), '/p')).toEqual({ page: items })
  })
  it('links to the next page only when more follow', () => {
    expect(paginate(items, q('n=3'), '/p')).toEqual({
      page: ['a', 'b', 'c'],
      link: '</p?n=3&last=c>; rel="next"',
    })
    expect(paginate(items, q('n=3&last=c'), '/p')).toEqual({ page: ['d'] })
    expect(paginate(items, q('n=4'), '/p')).toEqual({ page: items })
    expect(paginate(items, q('n=0'), '/p')).toEqual({ page: [] })
  })
  it('escapes last in the link', () => {
    expect(paginate(['a/b', 'a/c'], q('n=1'), '/v2/_catalog').link).toBe(
      '</v2/_catalog?n=1&last=a%2Fb>; rel="next"',
    )
  })
  it('refuses a bad n', () => {
    expect(() => paginate(items, q('n=x'), '/p')).toThrow(ApiError)
  })
})
