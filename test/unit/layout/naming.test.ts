import { describe, expect, it } from 'vitest'
import { isFerryError } from '../../../src/errors.js'
import {
  entryRepository,
  entryTag,
  isRefName,
  REF_NAME_ANNOTATION,
  REPOSITORY_ANNOTATION,
  refNameFor,
  splitRefName,
} from '../../../src/layout/naming.js'
import type { Descriptor } from '../../../src/oci/schemas.js'

const entry = (annotations?: Record<string, string>): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'a'.repeat(64)}`,
  size: 1,
  ...(annotations && { annotations }),
})

describe('layout naming', () => {
  it.each([
    ['1.0', undefined, '1.0'],
    ['latest', undefined, 'latest'],
    ['library/postgres:16', 'library/postgres', '16'],
    ['docker.io/library/postgres:16', 'docker.io/library/postgres', '16'],
    ['localhost:5000/app:v1.4.2', 'localhost:5000/app', 'v1.4.2'],
    ['localhost:5000/app', undefined, 'localhost:5000/app'], // "5000/app" is no tag
    ['x@sha256:abc', undefined, 'x@sha256:abc'], // pins a digest, names no repository
    [':x', undefined, ':x'],
  ])('splits ref.name %s', (refName, repository, tag) => {
    expect(splitRefName(refName)).toEqual({ repository, tag })
  })

  it('writes REPOSITORY:TAG in a repository view and the bare tag without one', () => {
    expect(refNameFor('library/postgres', '16')).toBe('library/postgres:16')
    expect(refNameFor('docker.io/library/postgres', '16')).toBe('docker.io/library/postgres:16')
    expect(refNameFor(undefined, '1.0')).toBe('1.0')
    // Without a repository any ref.name skopeo accepts is a valid name.
    expect(refNameFor(undefined, 'library/postgres:16')).toBe('library/postgres:16')
  })

  it.each([
    ['repo', 'a/b'],
    ['repo', ''],
    ['repo', '-x'],
    ['repo', 'x'.repeat(129)],
    [undefined, 'a b'],
    [undefined, 'x//y'],
    [undefined, '-x'],
    [undefined, ''],
  ])('refuses tag %s / %s', (repository, tag) => {
    let caught: unknown
    try {
      refNameFor(repository, tag)
    } catch (err) {
      caught = err
    }
    expect(isFerryError(caught, 'REFERENCE_INVALID')).toBe(true)
  })

  it('accepts the ref.names skopeo accepts and refuses the ones it refuses', () => {
    for (const ok of [
      'library/postgres:16',
      'docker.io/library/postgres:16',
      'localhost:5000/foo:1',
      'Foo_Bar',
    ]) {
      expect(isRefName(ok)).toBe(true)
    }
    for (const bad of ['a b', 'x//y', '-x', 'x:', '/x']) expect(isRefName(bad)).toBe(false)
  })

  it('places entries in views by ref.name, then by io.ferry.repository', () => {
    const tagged = entry({ [REF_NAME_ANNOTATION]: 'library/postgres:16' })
    expect(entryRepository(tagged)).toBe('library/postgres')
    expect(entryTag(tagged, 'library/postgres')).toBe('16')
    expect(entryTag(tagged, undefined)).toBeUndefined()
    expect(entryTag(tagged, 'library')).toBeUndefined()

    const bare = entry({ [REF_NAME_ANNOTATION]: '1.0' })
    expect(entryRepository(bare)).toBeUndefined()
    expect(entryTag(bare, undefined)).toBe('1.0')

    const untagged = entry({ [REPOSITORY_ANNOTATION]: 'acme/web' })
    expect(entryRepository(untagged)).toBe('acme/web')
    expect(entryTag(untagged, 'acme/web')).toBeUndefined()
    expect(entryRepository(entry())).toBeUndefined()
  })
})
