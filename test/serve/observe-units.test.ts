import { describe, expect, it } from 'vitest'
import { formatAccess, loggedTarget } from '../../src/serve/observe/access-log.js'
import { MetricsRegistry } from '../../src/serve/observe/metrics.js'

describe('metrics text exposition', () => {
  it('renders HELP, TYPE and series with label values escaped (backslash, quote, newline)', () => {
    const r = new MetricsRegistry()
    const c = r.counter('x_total', 'Things.\nCounted \\ here.')
    c.inc({ route: 'a"b\\c\nd' }, 2)
    c.inc({ route: 'a"b\\c\nd' })
    c.inc({ route: 'plain' }, -5) // ignored: a counter never goes down
    r.collected('y', 'Read at scrape.', 'gauge', () => [{ value: 7 }])
    expect(r.render()).toBe(
      [
        '# HELP x_total Things.\\nCounted \\\\ here.',
        '# TYPE x_total counter',
        'x_total{route="a\\"b\\\\c\\nd"} 3',
        '# HELP y Read at scrape.',
        '# TYPE y gauge',
        'y 7',
        '',
      ].join('\n'),
    )
    expect(r.value('x_total', { route: 'a"b\\c\nd' })).toBe(3)
    expect(r.value('x_total', { route: 'plain' })).toBe(0)
  })

  it('refuses metric and label names outside the exposition grammar', () => {
    const r = new MetricsRegistry()
    expect(() => r.counter('bad-name', 'x')).toThrow(/invalid metric name/)
    expect(() => r.counter('ok_total', 'x').inc({ 'bad-label': 'v' })).toThrow(/invalid label name/)
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
