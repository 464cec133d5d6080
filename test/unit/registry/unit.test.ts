import { describe, expect, it } from 'vitest'
import { referrersTag } from '../../../src/reference/grammar.js'
import { parseRegistryReference } from '../../../src/reference/index.js'
import { parseChallenges, pickChallenge } from '../../../src/registry/auth-challenge.js'
import { RegistryClient } from '../../../src/registry/client.js'
import { ferryCodeFor, registryError } from '../../../src/registry/errors.js'
import { apiHost, chosenScheme, credentialKey, hostOfKey } from '../../../src/registry/hosts.js'
import { nextLink } from '../../../src/registry/pagination.js'
import {
  Backoff,
  isRetryableStatus,
  parseRetryAfter,
  retryLine,
  retryPolicy,
  withRetry,
} from '../../../src/registry/retry.js'
import { coversScopes, mergeScopes, TokenCache } from '../../../src/registry/token-cache.js'

describe('WWW-Authenticate parsing', () => {
  it('reads a Bearer challenge with quoted values containing commas', () => {
    const [c] = parseChallenges(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/a:pull,push repository:b:pull"',
    )
    expect(c).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/a:pull,push repository:b:pull',
      },
    })
  })

  it('reads several challenges, unquoted values, escapes and odd spacing', () => {
    const cs = parseChallenges(
      'Basic realm="reg \\"x\\"", Bearer realm=https://t/token , service = svc,error="insufficient_scope"',
    )
    expect(cs.map((c) => c.scheme)).toEqual(['basic', 'bearer'])
    expect(cs[0]!.params.realm).toBe('reg "x"')
    expect(cs[1]!.params).toEqual({ realm: 'https://t/token', service: 'svc', error: 'insufficient_scope' })
    expect(pickChallenge(cs)?.scheme).toBe('bearer')
  })

  it('accepts a header sent twice and nothing at all', () => {
    expect(parseChallenges(['Basic realm="a"', 'Bearer realm="b"']).map((c) => c.scheme)).toEqual([
      'basic',
      'bearer',
    ])
    expect(parseChallenges(undefined)).toEqual([])
    expect(pickChallenge(parseChallenges('Negotiate'))).toBeUndefined()
  })
})

describe('retry policy', () => {
  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000)
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', now)).toBe(10_000)
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter(undefined)).toBeUndefined()
  })

  it('retries 500 only when idempotent; 429/502/503/504 as the method allows', () => {
    expect(isRetryableStatus(500, true)).toBe(true)
    expect(isRetryableStatus(500, false)).toBe(false)
    expect(isRetryableStatus(503, false)).toBe(true)
    expect(isRetryableStatus(429, false)).toBe(true)
    expect(isRetryableStatus(502, false)).toBe(false)
    expect(isRetryableStatus(404, true)).toBe(false)
  })

  it('bounds tries, jitters within the exponential ceiling, and refuses a wait past the budget', () => {
    const b = new Backoff(
      retryPolicy({ attempts: 4, baseDelayMs: 100, maxDelayMs: 250, maxElapsedMs: 10_000 }),
    )
    const delays = [b.next(), b.next(), b.next(), b.next()]
    expect(delays[3]).toBeUndefined()
    expect(delays[0]).toBeLessThanOrEqual(100)
    expect(delays[1]).toBeLessThanOrEqual(200)
    expect(delays[2]).toBeLessThanOrEqual(250)
    const c = new Backoff(retryPolicy({ maxElapsedMs: 1000 }))
    expect(c.next(5000)).toBeUndefined()
    expect(c.next(10)).toBe(10)
  })

  it('ignores nonsense options', () => {
    expect(retryPolicy({ attempts: -1, baseDelayMs: Number.NaN })).toMatchObject({
      attempts: 5,
      baseDelayMs: 250,
    })
    expect(retryPolicy({ attempts: 0 }).attempts).toBe(1)
  })

  it('withRetry: loops sharing one budget make its attempts in all, not attempts × attempts', async () => {
    const lines: string[] = []
    const hooks = {
      classify: () => ({ reason: 'HTTP 503' }),
      onRetry: (e: Parameters<typeof retryLine>[1]) => lines.push(retryLine('GET /v2/a/manifests/v1', e)),
    }
    let calls = 0
    const failing = async () => {
      calls++
      throw new Error('503')
    }
    const budget = new Backoff(retryPolicy({ attempts: 4, baseDelayMs: 1, maxDelayMs: 1 }))
    await expect(withRetry(budget, (b) => withRetry(b, failing, hooks), hooks)).rejects.toThrow('503')
    expect(calls).toBe(4)
    expect(lines.slice(0, 3)).toEqual(
      [2, 3, 4].map((n) =>
        expect.stringMatching(new RegExp(`^GET /v2/a/manifests/v1: HTTP 503, retry ${n} of 4 in [01] ms$`)),
      ),
    )
    // Given up once: the outer loop does not report the budget the inner one found spent.
    expect(lines.slice(3)).toEqual(['GET /v2/a/manifests/v1: HTTP 503, giving up after 4 tries'])
  })

  it('withRetry: a failure classify refuses is thrown at once; success ends the loop', async () => {
    let calls = 0
    const refused = withRetry(
      retryPolicy({ attempts: 4 }),
      async () => {
        calls++
        throw new Error('404')
      },
      { classify: () => undefined },
    )
    await expect(refused).rejects.toThrow('404')
    expect(calls).toBe(1)
    let tries = 0
    const value = await withRetry(
      retryPolicy({ attempts: 4, baseDelayMs: 1 }),
      async () => {
        if (++tries < 2) throw new Error('503')
        return 'ok'
      },
      { classify: () => ({ reason: 'HTTP 503' }) },
    )
    expect([value, tries]).toEqual(['ok', 2])
  })
})

describe('scopes and the token cache', () => {
  it('merges actions per resource', () => {
    expect(mergeScopes(['repository:a:pull'], ['repository:a:push', 'repository:b:pull'])).toEqual([
      'repository:a:pull,push',
      'repository:b:pull',
    ])
  })

  it('lets a wider token serve a narrower request', () => {
    expect(coversScopes(['repository:a:pull,push'], ['repository:a:pull'])).toBe(true)
    expect(coversScopes(['repository:a:pull'], ['repository:a:pull,push'])).toBe(false)
    expect(coversScopes(['repository:a:pull'], ['repository:b:pull'])).toBe(false)
    expect(coversScopes(['registry:catalog:*'], ['registry:catalog:*'])).toBe(true)
    expect(coversScopes(['repository:a:*'], ['repository:a:delete'])).toBe(true)
  })

  it('expires tokens (with a margin) and shares one fetch between concurrent callers', async () => {
    let now = 0
    const cache = new TokenCache(() => now)
    let fetches = 0
    const fetch = async () => {
      fetches++
      return { token: `t${fetches}`, expiresIn: 60 }
    }
    const [a, b] = await Promise.all([
      cache.obtain('r', ['repository:a:pull'], fetch),
      cache.obtain('r', ['repository:a:pull'], fetch),
    ])
    expect([a, b, fetches]).toEqual(['t1', 't1', 1])
    now = 54_000
    expect(await cache.obtain('r', ['repository:a:pull'], fetch)).toBe('t1')
    now = 55_001
    expect(await cache.obtain('r', ['repository:a:pull'], fetch)).toBe('t2')
    cache.invalidate('r', ['repository:a:pull'])
    expect(cache.get('r', ['repository:a:pull'])).toBeUndefined()
  })
})

describe('hosts', () => {
  it('maps Docker Hub names to its API host and credential key', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io')
    expect(apiHost('index.docker.io')).toBe('registry-1.docker.io')
    expect(credentialKey('docker.io')).toBe('https://index.docker.io/v1/')
    expect(credentialKey('Reg.Example:5000')).toBe('reg.example:5000')
    expect(hostOfKey('https://reg.example:5000/v2/')).toBe('reg.example:5000')
  })

  it('fixes HTTPS for remote hosts, HTTP for listed ones, and leaves loopback hosts to a probe', () => {
    for (const h of ['127.0.0.1:5000', 'localhost', 'localhost:5000', '[::1]:5000', '127.1.2.3']) {
      expect(chosenScheme(h)).toBeUndefined()
      expect(chosenScheme(h, { plainHttp: true })).toBe('http')
    }
    expect(chosenScheme('reg.example:5000')).toBe('https')
    expect(chosenScheme('reg.example:5000', { insecure: ['reg.example:5000'] })).toBe('http')
    expect(chosenScheme('reg.example:5000', { insecure: ['reg.example'] })).toBe('http')
    expect(chosenScheme('reg.example:5000', { insecure: ['reg.example:6000'] })).toBe('https')
    expect(chosenScheme('127.evil.example')).toBe('https')
    expect(chosenScheme('reg.example', { plainHttp: true, schemes: { 'reg.example': 'https' } })).toBe(
      'https',
    )
    expect(chosenScheme('127.0.0.1:5000', { schemes: { '127.0.0.1:5000': 'http' } })).toBe('http')
  })
})

describe('registry errors', () => {
  it('maps registry codes before statuses', () => {
    expect(ferryCodeFor(404, ['MANIFEST_UNKNOWN'])).toBe('NOT_FOUND')
    expect(ferryCodeFor(400, ['NAME_UNKNOWN'])).toBe('NOT_FOUND')
    expect(ferryCodeFor(403, [])).toBe('DENIED')
    expect(ferryCodeFor(401, ['DENIED'])).toBe('DENIED')
    expect(ferryCodeFor(429, [])).toBe('TOO_MANY_REQUESTS')
    expect(ferryCodeFor(400, ['TOOMANYREQUESTS'])).toBe('TOO_MANY_REQUESTS')
    expect(ferryCodeFor(500, ['UNKNOWN'])).toBe('REGISTRY')
  })

  it('formats one line naming the image, the code and the status', () => {
    const body = JSON.stringify({
      errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: '1.0' } }],
    })
    const err = registryError('127.0.0.1:5000/team/app:1.0', 404, body)
    expect(err.message).toBe('127.0.0.1:5000/team/app:1.0: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)')
    expect(err.code).toBe('NOT_FOUND')
    expect(err.errors[0]!.detail).toEqual({ Tag: '1.0' })
    expect(registryError('r/x', 502, '<html>bad gateway</html>').message).toBe('r/x: bad gateway (HTTP 502)')
  })
})

describe('pagination links and referrers tags', () => {
  it('finds rel="next" among several links, relative to the request', () => {
    const base = new URL('http://r:5000/v2/a/tags/list?n=2')
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"', base)?.toString()).toBe(
      'http://r:5000/v2/a/tags/list?n=2&last=b',
    )
    expect(nextLink('<https://x/prev>; rel="prev", </next?x=1>; rel=next', base)?.toString()).toBe(
      'http://r:5000/next?x=1',
    )
    expect(nextLink('</p>; rel="prev"', base)).toBeUndefined()
    expect(nextLink(undefined, base)).toBeUndefined()
  })

  it('names the tag-schema index after the subject digest', () => {
    const hex = 'a'.repeat(64)
    expect(referrersTag(`sha256:${hex}`)).toBe(`sha256-${hex}`)
    expect(referrersTag(`sha512:${'b'.repeat(128)}`)).toBe(`sha512-${'b'.repeat(64)}`)
  })
})

describe('names', () => {
  it('takes a reference as the grammar parsed it: normalised and validated once, never again', async () => {
    const client = new RegistryClient()
    try {
      expect(client.repository(parseRegistryReference('docker.io/postgres')).name).toBe(
        'docker.io/library/postgres',
      )
      expect(client.repository(parseRegistryReference('docker.io/acme/web')).repository).toBe('acme/web')
      // No second library/ prefix, no second check: the parsed value is used as it is.
      expect(client.repository({ registry: 'docker.io', repository: 'library/postgres' }).name).toBe(
        'docker.io/library/postgres',
      )
      expect(client.repository({ registry: 'docker.io', repository: 'x' }).repository).toBe('x')
      expect(() => parseRegistryReference('127.0.0.1:5000/Team/App')).toThrow(
        expect.objectContaining({ code: 'REFERENCE_INVALID' }),
      )
      expect(() => parseRegistryReference('bad host/a')).toThrow(
        expect.objectContaining({ code: 'REFERENCE_INVALID' }),
      )
      const repo = client.repository({ registry: '127.0.0.1:1', repository: 'a/b' })
      await expect(repo.fetchManifest('../../_catalog')).rejects.toMatchObject({ code: 'REFERENCE_INVALID' })
      await expect(
        repo.hasBlob({ mediaType: 'x', digest: 'sha256:../x' as `sha256:${string}`, size: 1 }),
      ).rejects.toMatchObject({
        code: 'DIGEST_INVALID',
      })
    } finally {
      await client.close()
    }
  })
})
