import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..', '..')

describe('README: Serving a registry', () => {
  it('shows a screenshot of the UI image page, and the file is a PNG in the repository', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const start = readme.indexOf('### Serving a registry')
    const section = readme.slice(start, readme.indexOf('\n### ', start + 1))
    expect(start).toBeGreaterThan(0)
    const image = /!\[[^\]]+\]\((docs\/images\/serve-ui-image\.png)\)/.exec(section)?.[1]
    expect(image).toBe('docs/images/serve-ui-image.png')
    const png = await readFile(join(ROOT, image!))
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG')
    for (const flag of ['--no-ui', '--access-log FILE', '--access-log-format', '--metrics-public'])
      expect(section).toContain(flag)
  })
})
