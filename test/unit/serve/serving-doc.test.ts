import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'

const GUIDE = join(import.meta.dirname, '..', '..', '..', 'docs', 'serving.md')

describe('docs/serving.md: Serving a registry', () => {
  it('shows a screenshot of the UI image page, and the file is a PNG in the repository', async () => {
    const guide = await readFile(GUIDE, 'utf8')
    const start = guide.indexOf('## Serving a registry')
    const section = guide.slice(start, guide.indexOf('\n## ', start + 1))
    expect(start).toBeGreaterThan(0)
    const image = /!\[[^\]]+\]\((images\/serve-ui-image\.png)\)/.exec(section)?.[1]
    expect(image).toBe('images/serve-ui-image.png')
    const png = await readFile(join(dirname(GUIDE), image!))
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG')
    for (const flag of ['--no-ui', '--access-log FILE', '--access-log-format', '--metrics-public'])
      expect(section).toContain(flag)
  })
})
