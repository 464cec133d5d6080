import { describe, expect, it } from 'vitest'
import { addEntry, manifestEntry, removeDigest, removeRefName } from '../../../src/layout/entries.js'
import { REF_NAME_ANNOTATION, REPOSITORY_ANNOTATION, SUBJECT_ANNOTATION } from '../../../src/layout/naming.js'
import type { Descriptor, ImageIndex } from '../../../src/oci/schemas.js'
import { artifactFor, syntheticImage } from '../../helpers/registry-fixtures.js'

const D1 = `sha256:${'1'.repeat(64)}` as const
const D2 = `sha256:${'2'.repeat(64)}` as const
const MT = 'application/vnd.oci.image.manifest.v1+json'

const e = (digest: string, annotations?: Record<string, string>): Descriptor => ({
  mediaType: MT,
  digest: digest as Descriptor['digest'],
  size: 10,
  ...(annotations && { annotations }),
})
const idx = (...manifests: Descriptor[]): ImageIndex => ({ schemaVersion: 2, manifests, extra: 'kept' })
const tag = (ref: string) => ({ [REF_NAME_ANNOTATION]: ref })
const repo = (r: string) => ({ [REPOSITORY_ANNOTATION]: r })

describe('index.json entry edits', () => {
  it('records tag, repository, artifactType and subject on the entry', () => {
    const image = syntheticImage()
    expect(manifestEntry(image.manifest, 'acme/web', 'acme/web:1')).toEqual({
      mediaType: MT,
      digest: image.manifest.digest,
      size: image.manifest.bytes.byteLength,
      annotations: tag('acme/web:1'),
    })
    expect(manifestEntry(image.manifest, 'acme/web').annotations).toEqual(repo('acme/web'))
    expect(manifestEntry(image.manifest, undefined).annotations).toBeUndefined()
    const sbom = artifactFor({ mediaType: MT, digest: D1, size: 5 }, 'application/spdx+json')
    const entry = manifestEntry(sbom.manifest, 'acme/web')
    expect(entry.artifactType).toBe('application/spdx+json')
    expect(entry.annotations).toEqual({ ...repo('acme/web'), [SUBJECT_ANNOTATION]: D1 })
  })

  it('moves a tag in place and keeps unknown fields', () => {
    const next = addEntry(idx(e(D1, tag('a:1')), e(D1, tag('a:2'))), e(D2, tag('a:1')))
    expect(next?.manifests.map((m) => [m.digest, m.annotations?.[REF_NAME_ANNOTATION]])).toEqual([
      [D2, 'a:1'],
      [D1, 'a:2'],
    ])
    expect(next?.extra).toBe('kept')
  })

  it('is a no-op for an identical tag or an already listed untagged digest', () => {
    expect(addEntry(idx(e(D1, tag('a:1'))), e(D1, tag('a:1')))).toBeUndefined()
    expect(addEntry(idx(e(D1, tag('a:1'))), e(D1, repo('a')))).toBeUndefined()
    expect(addEntry(idx(e(D1, repo('a'))), e(D1, repo('a')))).toBeUndefined()
    expect(addEntry(idx(e(D1)), e(D1))).toBeUndefined()
  })

  it('keeps one entry per repository for the same digest', () => {
    const next = addEntry(idx(e(D1, repo('a'))), e(D1, repo('b')))
    expect(next?.manifests).toHaveLength(2)
    // Tagging a digest in `a` replaces a's untagged entry and leaves b's.
    const tagged = addEntry(next!, e(D1, tag('a:1')))
    expect(tagged?.manifests.map((m) => m.annotations)).toEqual([repo('b'), tag('a:1')])
  })

  it('removes a digest from one view only', () => {
    const index = idx(e(D1, tag('a:1')), e(D1, repo('b')), e(D1), e(D2, repo('a')))
    expect(removeDigest(index, 'a', D1)?.manifests).toEqual([e(D1, repo('b')), e(D1), e(D2, repo('a'))])
    expect(removeDigest(index, undefined, D1)?.manifests).toHaveLength(3)
    expect(removeDigest(index, 'c', D1)).toBeUndefined()
  })

  it('keeps the manifest as untagged when its last tag goes', () => {
    const index = idx(e(D1, tag('a:1')), e(D1, tag('a:2')), e(D2, tag('b:1')))
    const once = removeRefName(index, 'a:1')
    expect(once?.manifests).toEqual([e(D1, tag('a:2')), e(D2, tag('b:1'))])
    const twice = removeRefName(once!, 'a:2')
    expect(twice?.manifests).toEqual([e(D2, tag('b:1')), e(D1, repo('a'))])
    expect(removeRefName(idx(e(D1, tag('1.0'))), '1.0')?.manifests).toEqual([e(D1)])
    expect(removeRefName(index, 'a:9')).toBeUndefined()
  })
})
