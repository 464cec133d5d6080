import { describe, expect, it } from 'vitest'
import { formatAccess, loggedTarget } from '../../../src/serve/observe/access-log.js'
import { ServerMetrics } from '../../../src/serve/observe/server-metrics.js'

describe('server metrics', () => {
  it("keeps each server's counts in a registry of its own, in the Prometheus text format", async () => {
    const one = new ServerMetrics({})
    const two = new ServerMetrics({})
    one.record({ method: 'GET', route: '/v2/', status: 200, bytesIn: 10, bytesOut: 20 })
    one.record({ method: 'GET', route: '/v2/', status: 200, bytesIn: 1, bytesOut: 2 })
    // A method the client invented is one series, not one per invention.
    one.record({ method: 'BREW', route: '/v2/', status: 405, bytesIn: 0, bytesOut: 0 })
    const first = await one.exposition()
    expect(first.contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
    const lines = first.body.split('\n')
    expect(lines).toContain('# TYPE ferry_http_requests_total counter')
    expect(lines).toContain('ferry_http_requests_total{method="GET",route="/v2/",status="200"} 2')
    expect(lines).toContain('ferry_http_requests_total{method="other",route="/v2/",status="405"} 1')
    expect(lines).toContain('ferry_http_request_bytes_total{route="/v2/"} 11')
    expect(lines).toContain('ferry_http_response_bytes_total{route="/v2/"} 22')
    expect(lines).toContain('ferry_upload_sessions_open 0')
    expect((await two.exposition()).body).not.toContain('ferry_http_requests_total{')
  })
})

describe('access log', () => {
  const record = {
    time: new Date('2026-12-07T21:47:51.123Z'),
    remote: '127.0.0.1',
    user: 'ci',
    method: 'PUT',
    target: '/v2/team/app/manifests/v1',
    status: 201,
    bytes: 377,
    durationMs: 11.25,
    digest: 'sha256:5c891535fcf724a46ecd5c2ac663e3692853521d786a2cb45274ac6934e843ed',
    userAgent: 'skopeo/1.9 "quoted" \u001b[31mred',
  }

  it('common: NCSA combined with the duration and the digest, quotes and controls escaped', () => {
    expect(formatAccess(record, 'common')).toBe(
      '127.0.0.1 - ci [07/Dec/2026:21:47:51 +0000] "PUT /v2/team/app/manifests/v1 HTTP/1.1" 201 377 "-" ' +
        '"skopeo/1.9 \\"quoted\\" \\x1b[31mred" 11.3ms sha256:5c891535fcf724a46ecd5c2ac663e3692853521d786a2cb45274ac6934e843ed',
    )
    expect(formatAccess({ ...record, user: undefined, digest: undefined }, 'common')).toMatch(
      /^127\.0\.0\.1 - - \[.*\] .* 11\.3ms -$/,
    )
  })

  it('json: one object per line with the same fields', () => {
    const line = formatAccess(record, 'json')
    expect(line).not.toContain('\n')
    expect(JSON.parse(line)).toEqual({
      time: '2026-12-07T21:47:51.123Z',
      remote: '127.0.0.1',
      user: 'ci',
      method: 'PUT',
      path: '/v2/team/app/manifests/v1',
      status: 201,
      bytes: 377,
      durationMs: 11.3,
      digest: record.digest,
      userAgent: record.userAgent,
    })
  })

  it('keeps only query parameters that hold no secret', () => {
    expect(loggedTarget('/v2/a/blobs/uploads/x?_state=SECRETTOKEN&digest=sha256%3Aab&token=t0k')).toBe(
      '/v2/a/blobs/uploads/x?digest=sha256:ab',
    )
    expect(loggedTarget('/v2/a/tags/list?n=10&last=v1')).toBe('/v2/a/tags/list?n=10&last=v1')
    expect(loggedTarget('/v2/_catalog?access_token=abc')).toBe('/v2/_catalog')
  })
})
