import { describe, expect, it } from 'vitest'
import { parseDuration, parseSize, parseUpstream } from '../../../src/serve/upstream/upstreams.js'

describe('--upstream, --upstream-ttl, --cache-max-size and --cache-max-age values', () => {
  it('takes URL or NAME=URL', () => {
    expect(parseUpstream('https://registry-1.docker.io')).toEqual({
      name: 'registry-1.docker.io',
      host: 'registry-1.docker.io',
      plainHttp: false,
    })
    expect(parseUpstream('docker.io=https://registry-1.docker.io')).toEqual({
      name: 'docker.io',
      host: 'registry-1.docker.io',
      plainHttp: false,
    })
    expect(parseUpstream('http://127.0.0.1:5001')).toEqual({
      name: '127.0.0.1:5001',
      host: '127.0.0.1:5001',
      plainHttp: true,
    })
  })

  it('refuses what names no registry', () => {
    expect(() => parseUpstream('registry-1.docker.io')).toThrow(/invalid --upstream/)
    expect(() => parseUpstream('ftp://host')).toThrow(/only http/)
    expect(() => parseUpstream('https://host/v2/library')).toThrow(/no path/)
  })

  it('reads durations and sizes', () => {
    expect(parseDuration('5m', '--upstream-ttl')).toBe(300_000)
    expect(parseDuration('30d', '--cache-max-age')).toBe(30 * 86_400_000)
    expect(parseDuration('0s', '--upstream-ttl')).toBe(0)
    expect(parseDuration('90', '--upstream-ttl')).toBe(90_000)
    expect(() => parseDuration('5 minutes', '--upstream-ttl')).toThrow(/invalid --upstream-ttl/)
    expect(parseSize('50G', '--cache-max-size')).toBe(50 * 1024 ** 3)
    expect(parseSize('512MiB', '--cache-max-size')).toBe(512 * 1024 ** 2)
    expect(parseSize('1000', '--cache-max-size')).toBe(1000)
    expect(() => parseSize('lots', '--cache-max-size')).toThrow(/invalid --cache-max-size/)
  })
})
