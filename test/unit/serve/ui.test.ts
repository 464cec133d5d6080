import { describe, expect, it } from 'vitest'
import { escapeHtml, html } from '../../../src/serve/ui/html.js'
import { pageAfter } from '../../../src/serve/ui/paging.js'
import { parseUiPath } from '../../../src/serve/ui/router.js'
import { summarizeSbom } from '../../../src/sign/sbom-summary.js'

const DIGEST = `sha256:${'a'.repeat(64)}`

describe('UI markup', () => {
  it('escapes every interpolated value; only html`` output goes in as markup', () => {
    const tag = '<img src=x onerror=alert(1)>"\'&'
    expect(escapeHtml(tag)).toBe('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;')
    const row = html`<td title="${tag}">${tag}</td>`
    expect(row.text).toBe(
      '<td title="&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;">&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;</td>',
    )
    expect(html`<tr>${[row, '<b>']}</tr>`.text).toBe(`<tr>${row.text}&lt;b&gt;</tr>`)
  })
})

describe('UI paths', () => {
  it('tells repositories, tags, digests and cache names apart', () => {
    expect(parseUiPath('/ui/')).toEqual({ page: 'repositories' })
    expect(parseUiPath('/ui/repo/team/app')).toEqual({ page: 'tags', name: 'team/app' })
    expect(parseUiPath('/ui/repo/team/app:v1.0.0')).toEqual({
      page: 'image',
      name: 'team/app',
      tag: 'v1.0.0',
    })
    expect(parseUiPath(`/ui/repo/team/app@${DIGEST}`)).toEqual({
      page: 'image',
      name: 'team/app',
      digest: DIGEST,
    })
    // A cache root names repositories with their upstream's host and port.
    expect(parseUiPath('/ui/repo/127.0.0.1:5000/team/app')).toEqual({
      page: 'tags',
      name: '127.0.0.1:5000/team/app',
    })
    expect(parseUiPath('/ui/repo/127.0.0.1:5000/team/app:1.0')).toEqual({
      page: 'image',
      name: '127.0.0.1:5000/team/app',
      tag: '1.0',
    })
    expect(parseUiPath(`/ui/sbom/team/app@${DIGEST}`)).toEqual({
      page: 'sbom',
      name: 'team/app',
      digest: DIGEST,
    })
    expect(() => parseUiPath('/ui/repo/team/app@sha256:nothex')).toThrow(/not a digest/)
    expect(() => parseUiPath('/ui/repo/<script>')).toThrow(/no such page/)
    expect(() => parseUiPath('/ui/repo/%E0%A4%A')).toThrow(/not a valid path/)
  })
})

describe('UI paging', () => {
  it('pages a sorted list by cursor, without reading past the page', () => {
    const names = Array.from({ length: 120 }, (_, i) => `r${String(i).padStart(3, '0')}`)
    const first = pageAfter(names, (n) => n, undefined, 50)
    expect(first.items).toHaveLength(50)
    expect(first.next).toBe('r049')
    const third = pageAfter(names, (n) => n, 'r099', 50)
    expect(third.items).toEqual(names.slice(100))
    expect(third.before).toBe(100)
    expect(third.next).toBeUndefined()
    // A cursor that is no longer in the list (deleted since) still lands right after where it was.
    expect(pageAfter(names, (n) => n, 'r0495', 50).items[0]).toBe('r050')
  })
})

describe('SBOM summary', () => {
  it('counts SPDX packages and their licences (concluded, else declared)', () => {
    const spdx = {
      spdxVersion: 'SPDX-2.3',
      name: 'app',
      packages: [
        { licenseConcluded: 'MIT' },
        { licenseConcluded: 'NOASSERTION', licenseDeclared: 'MIT' },
        { licenseConcluded: 'Apache-2.0' },
        { licenseConcluded: 'NOASSERTION' },
      ],
    }
    expect(summarizeSbom(Buffer.from(JSON.stringify(spdx)))).toEqual({
      format: 'spdx',
      version: 'SPDX-2.3',
      name: 'app',
      packages: 4,
      licenses: [
        { license: 'MIT', packages: 2 },
        { license: 'Apache-2.0', packages: 1 },
      ],
      unlicensed: 1,
    })
  })

  it('counts CycloneDX components, nested ones too', () => {
    const cdx = {
      bomFormat: 'CycloneDX',
      specVersion: '1.5',
      components: [
        {
          name: 'a',
          licenses: [{ license: { id: 'MIT' } }],
          components: [{ name: 'a1', licenses: [{ expression: 'MIT OR GPL-2.0' }] }],
        },
        { name: 'b' },
      ],
    }
    expect(summarizeSbom(Buffer.from(JSON.stringify(cdx)))).toMatchObject({
      format: 'cyclonedx',
      version: 'CycloneDX 1.5',
      packages: 3,
      licenses: [
        { license: 'MIT', packages: 1 },
        { license: 'MIT OR GPL-2.0', packages: 1 },
      ],
      unlicensed: 1,
    })
  })

  it('refuses what is neither, in one line', () => {
    expect(() => summarizeSbom(Buffer.from('{"spdxVersion":"SPDX-2.3","packages":"x"}'))).toThrow(/packages/)
    expect(() => summarizeSbom(Buffer.from('{}'))).toThrow(/neither SPDX JSON/)
  })
})
