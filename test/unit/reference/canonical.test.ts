import { describe, expect, it } from 'vitest'
import {
  canonicalName,
  canonicalRegistry,
  canonicalRepository,
  formatRepository,
  parseReference,
  parseRegistryReference,
} from '../../../src/reference/index.js'

const D = `sha256:${'a'.repeat(64)}`

describe('canonical registry names', () => {
  it.each([
    ['localhost:5000', 'localhost:5000'],
    ['LOCALHOST:5000', 'localhost:5000'],
    ['Registry.Intra', 'registry.intra'],
    ['registry.intra:443', 'registry.intra'],
    ['REGISTRY.INTRA:443', 'registry.intra'],
    ['registry.intra:80', 'registry.intra'],
    ['registry.intra:8443', 'registry.intra:8443'],
    ['registry.intra:4430', 'registry.intra:4430'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['[::1]:5000', '[::1]:5000'],
    ['[::1]:443', '[::1]'],
    ['[FE80::1]', '[fe80::1]'],
    ['docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['Registry-1.Docker.IO', 'docker.io'],
    ['docker.io:443', 'docker.io'],
  ])('%s → %s', (host, want) => {
    expect(canonicalRegistry(host)).toBe(want)
    expect(canonicalRegistry(want)).toBe(want)
  })

  it('puts a Docker Hub repository of one component under library/, as parseReference does', () => {
    expect(canonicalRepository({ registry: 'registry-1.docker.io', repository: 'nginx' })).toBe(
      'docker.io/library/nginx',
    )
    expect(canonicalRepository({ registry: 'reg.local', repository: 'nginx' })).toBe('reg.local/nginx')
  })

  it('gives every spelling of one repository the same name, and agrees with parseReference', () => {
    const spellings: [string, string][] = [
      ['localhost:5000/acme/api:v1', 'LOCALHOST:5000/acme/api:v1'],
      ['registry.intra/acme/api:v1', 'Registry.INTRA:443/acme/api:v1'],
      ['registry.intra/acme/api:v1', 'registry.intra:80/acme/api:v1'],
      ['nginx:1.27', 'docker.io/library/nginx:1.27'],
      ['nginx:1.27', 'index.docker.io/nginx:1.27'],
      ['nginx:1.27', 'registry-1.docker.io/library/nginx:1.27'],
      ['nginx:1.27', 'Registry-1.Docker.io/nginx:1.27'],
      [`user/app@${D}`, `INDEX.DOCKER.IO/user/app@${D}`],
    ]
    for (const [a, b] of spellings) expect(canonicalName(b), b).toBe(canonicalName(a))
    // Where parseReference's name is already canonical, the two say the same.
    for (const text of ['localhost:5000/acme/api', 'registry.intra/a/b', 'nginx', 'index.docker.io/x/y']) {
      const ref = parseRegistryReference(text)
      expect(canonicalRepository(ref), text).toBe(formatRepository(ref))
    }
    // Case in the path is refused by the grammar, never folded: it is another name.
    expect(() => parseReference('localhost:5000/Acme/api')).toThrow(/must be lowercase/)
  })

  it('keeps layouts as parsed and leaves text that is no reference alone', () => {
    expect(canonicalName('oci:./Out:acme/api:v1')).toBe('oci:./Out:acme/api:v1')
    expect(canonicalName('not a reference')).toBe('not a reference')
    expect(canonicalName(`LOCALHOST:5000/acme/api:v1@${D}`)).toBe(`localhost:5000/acme/api:v1@${D}`)
  })
})
