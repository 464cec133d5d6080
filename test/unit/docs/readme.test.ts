import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..', '..')

/** GitHub's anchor for a heading: lower case, punctuation dropped (not `-` or `_`), spaces as `-`. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replaceAll(' ', '-')
}

/** Headings outside fenced blocks, as anchors. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    else if (!fenced && /^#{1,6} /.test(line)) anchors.add(anchorOf(line.replace(/^#+ /, '')))
  }
  return anchors
}

/** Markdown links outside fenced blocks that stay in the repository: [text](path#anchor). */
function localLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '')
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] ?? '')
    .filter((target) => !/^[a-z]+:/.test(target))
}

async function commandIds(dir: string, prefix = ''): Promise<string[]> {
  const ids: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) ids.push(...(await commandIds(join(dir, entry.name), `${prefix}${entry.name} `)))
    else if (entry.name.endsWith('.ts')) ids.push(`${prefix}${entry.name.slice(0, -3)}`)
  }
  return ids
}

describe('README and docs/', () => {
  it('the command index has one line for every command in commands/', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
    const start = readme.indexOf('## Command index')
    const index = readme.slice(start, readme.indexOf('\n## ', start + 1))
    expect(start).toBeGreaterThan(0)
    const ids = await commandIds(join(ROOT, 'commands'))
    expect(ids.length).toBeGreaterThan(40)
    for (const id of ids) expect(index, id).toMatch(new RegExp(`^\\| \`ferry ${id}\` \\|`, 'm'))
  })

  it('every link between README.md and docs/ leads to a file, and to a heading when it names one', async () => {
    const files = [
      'README.md',
      ...(await readdir(join(ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
    ]
    const broken: string[] = []
    let checked = 0
    for (const file of files) {
      const text = await readFile(join(ROOT, file), 'utf8')
      for (const link of localLinks(text)) {
        checked++
        const [path = '', anchor] = link.split('#')
        const target = path ? join(ROOT, dirname(file), path) : join(ROOT, file)
        if (!existsSync(target)) broken.push(`${file}: ${link} (no ${relative(ROOT, target)})`)
        else if (anchor !== undefined && target.endsWith('.md')) {
          if (!anchorsOf(await readFile(target, 'utf8')).has(anchor))
            broken.push(`${file}: ${link} (no such heading)`)
        }
      }
    }
    expect(checked).toBeGreaterThan(30)
    expect(broken).toEqual([])
  })
})
