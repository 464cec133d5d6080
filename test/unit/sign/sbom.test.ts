import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { digestOf } from '../../../src/oci/digest.js'
import { artifactTypeOf, parseManifest, subjectOf } from '../../../src/oci/manifest.js'
import {
  artifactReferrerManifest,
  detectSbomFormat,
  legacySbomTag,
  sbomReferrerManifest,
} from '../../../src/sign/sbom.js'

const enc = (s: string) => new TextEncoder().encode(s)
const DIGEST = 'sha256:18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722' as const
const SUBJECT = { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1234, digest: DIGEST }
const SPDX = enc('{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app"}')
const CYCLONEDX = enc('{"bomFormat":"CycloneDX","specVersion":"1.5","components":[]}')

function usageError(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('USAGE')
    return (err as FerryError).message
  }
  throw new Error('expected a USAGE error')
}

describe('detectSbomFormat', () => {
  it('recognises SPDX JSON and CycloneDX JSON', () => {
    expect(detectSbomFormat(SPDX)).toBe('spdx')
    expect(detectSbomFormat(CYCLONEDX)).toBe('cyclonedx')
  })

  it('refuses invalid JSON and other documents with a USAGE error naming the file', () => {
    expect(usageError(() => detectSbomFormat(enc('<bom/>'), 'sbom.xml'))).toBe(
      'sbom.xml: not valid JSON (SPDX JSON or CycloneDX JSON expected)',
    )
    expect(usageError(() => detectSbomFormat(enc('{"bomFormat":"cyclonedx"}'), 'x.json'))).toMatch(
      /^x\.json: neither/,
    )
    expect(usageError(() => detectSbomFormat(enc('[]')))).toMatch(/^SBOM: neither/)
  })
})

describe('artifactReferrerManifest', () => {
  it('writes an OCI 1.1 artifact: empty config, artifactType, one layer, subject, sorted annotations', () => {
    const out = artifactReferrerManifest({
      artifactType: 'application/spdx+json',
      layerMediaType: 'application/spdx+json',
      bytes: SPDX,
      subject: SUBJECT,
      annotations: { 'org.example.z': '1', 'com.example.a': '2' },
      created: '2026-01-02T03:04:05Z',
    })
    expect(Buffer.from(out.configBytes).toString()).toBe('{}')
    expect(out.layerDigest).toBe(digestOf(SPDX))
    expect(Buffer.from(out.manifestBytes).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json",' +
        '"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},' +
        `"layers":[{"mediaType":"application/spdx+json","digest":"${digestOf(SPDX)}","size":${SPDX.byteLength}}],` +
        `"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"${DIGEST}","size":1234},` +
        '"annotations":{"com.example.a":"2","org.example.z":"1","org.opencontainers.image.created":"2026-01-02T03:04:05Z"}}',
    )
    const m = parseManifest(out.manifestBytes)
    expect(artifactTypeOf(m)).toBe('application/spdx+json')
    expect(subjectOf(m)).toEqual(SUBJECT)
  })

  it('types SBOM referrers by their IANA media type and is reproducible', () => {
    const input = {
      bytes: CYCLONEDX,
      subject: SUBJECT,
      created: '2026-01-02T03:04:05Z',
      format: 'cyclonedx' as const,
    }
    const a = sbomReferrerManifest(input)
    const b = sbomReferrerManifest({
      ...input,
      layerAnnotations: { 'org.opencontainers.image.title': 'bom.json' },
    })
    const ma = JSON.parse(Buffer.from(a.manifestBytes).toString())
    expect(ma.artifactType).toBe('application/vnd.cyclonedx+json')
    expect(ma.layers[0].mediaType).toBe('application/vnd.cyclonedx+json')
    expect(sbomReferrerManifest(input).manifestBytes).toEqual(a.manifestBytes)
    expect(JSON.parse(Buffer.from(b.manifestBytes).toString()).layers[0].annotations).toEqual({
      'org.opencontainers.image.title': 'bom.json',
    })
  })

  it('names the legacy cosign .sbom tag', () => {
    expect(legacySbomTag(DIGEST)).toBe(`sha256-${DIGEST.slice(7)}.sbom`)
  })
})
