import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { FerryError } from '../../../src/errors.js'
import { formatPath, loadYamlSpec, readYamlSpec } from '../../../src/spec/yaml.js'

const schema = z.strictObject({
  name: z.string(),
  items: z.array(
    z.strictObject({
      id: z.string(),
      rules: z
        .array(z.strictObject({ size: z.number().int().positive(), label: z.string().optional() }))
        .optional(),
    }),
  ),
})

function errorOf(text: string, source = 'spec.yaml'): FerryError {
  try {
    loadYamlSpec(text, schema, source)
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('USAGE')
    return err as FerryError
  }
  throw new Error('expected the spec to be refused')
}

describe('loadYamlSpec', () => {
  it('returns the validated value', () => {
    const text = 'name: a\nitems:\n  - id: x\n    rules: [{ size: 1 }]\n'
    expect(loadYamlSpec(text, schema, 'spec.yaml')).toEqual({
      name: 'a',
      items: [{ id: 'x', rules: [{ size: 1 }] }],
    })
  })

  it('points a syntax error at its line and column', () => {
    const text = ['name: a', 'items:', '  - id: x', '    rules: [{ size: 1 }', '  - id: y', ''].join('\n')
    const err = errorOf(text)
    expect(err.message).toMatch(/^spec\.yaml:\d+:\d+: /)
    expect(err.message).not.toContain('\n')
    const [, line] = /^spec\.yaml:(\d+):(\d+)/.exec(err.message)!
    // The unclosed flow sequence opened on line 4; the parser notices by line 5.
    expect(Number(line)).toBeGreaterThanOrEqual(4)
    expect(Number(line)).toBeLessThanOrEqual(5)
  })

  it.each([
    ['name: a\nitems:\n  - id: x\n   oops: 1\n', 'spec.yaml:4:1: Sequence item without - indicator'],
    ['name: a\n  bad: 1\n', 'spec.yaml:1:7: Nested mappings are not allowed in compact mappings'],
    ['name: a\nitems: b: c\n', 'spec.yaml:2:8: Nested mappings are not allowed in compact mappings'],
  ])('points a structural error at the place the parser found it: %j', (text, message) => {
    expect(errorOf(text).message).toBe(message)
  })

  it('reports duplicate keys where the second one starts', () => {
    expect(errorOf('name: a\nitems: []\nname: b\n').message).toMatch(
      /^spec\.yaml:3:1: Map keys must be unique$/,
    )
  })

  it('maps a schema error deep in a list to the offending value', () => {
    const text = [
      'name: demo', // 1
      'items:', // 2
      '  - id: first', // 3
      '    rules:', // 4
      '      - size: 1', // 5
      '  - id: second', // 6
      '    rules:', // 7
      '      - size: 2', // 8
      '      - label: x', // 9
      '        size: -3', // 10
      '',
    ].join('\n')
    expect(errorOf(text).message).toBe(
      'spec.yaml:10:15: items[1].rules[1].size: Too small: expected number to be >0',
    )
  })

  it('falls back to the enclosing node when a required field is missing', () => {
    const text = 'name: demo\nitems:\n  - id: a\n  - rules: []\n'
    expect(errorOf(text).message).toBe('spec.yaml:4:5: items[1].id: required field is missing')
    expect(errorOf('items: []\n').message).toBe('spec.yaml:1:1: name: required field is missing')
  })

  it('points an unknown field at its key', () => {
    const text = 'name: demo\nitems:\n  - id: a\n    rule: []\n'
    expect(errorOf(text).message).toBe('spec.yaml:4:5: items[0].rule: unknown field')
  })

  it('says to quote a value YAML read as a number', () => {
    const text = 'name: 1.10\nitems: []\n'
    expect(errorOf(text).message).toBe('spec.yaml:1:7: name: expected a string, got 1.10 (quote it: "1.10")')
  })

  it('reports every problem, one per line in file order, each with its line and column', () => {
    const text = 'items:\n  - id: 3\n    colour: red\n    size: 1\n  - id: 4\nname: 5\n'
    expect(errorOf(text).message.split('\n')).toEqual([
      'spec.yaml: 5 problems',
      'spec.yaml:2:9: items[0].id: expected a string, got 3 (quote it: "3")',
      'spec.yaml:3:5: items[0].colour: unknown field',
      'spec.yaml:4:5: items[0].size: unknown field',
      'spec.yaml:5:9: items[1].id: expected a string, got 4 (quote it: "4")',
      'spec.yaml:6:7: name: expected a string, got 5 (quote it: "5")',
    ])
  })

  it('follows aliases to the node the issue is in', () => {
    // `templates` is not validated, so the only way to reach the bad value is through the alias.
    const withTemplates = z.object({ templates: z.unknown(), items: schema.shape.items })
    const text = 'templates:\n  - &one { id: a, rules: [{ size: 0 }] }\nitems:\n  - *one\n'
    expect(() => loadYamlSpec(text, withTemplates, 'spec.yaml')).toThrow(
      /^spec\.yaml:2:35: items\[0\]\.rules\[0\]\.size: Too small/,
    )
  })

  it('refuses an empty file', () => {
    expect(errorOf('# nothing here\n').message).toBe('spec.yaml:1:1: the file is empty')
  })

  it('names the file in every message', () => {
    expect(errorOf('name: [', 'conf/mirror.yaml').message).toMatch(/^conf\/mirror\.yaml:\d+:\d+: /)
  })

  it('formats issue paths', () => {
    expect(formatPath(['images', 1, 'tags', 'semver'])).toBe('images[1].tags.semver')
    expect(formatPath([0, 'a'])).toBe('[0].a')
    expect(formatPath([])).toBe('')
  })
})

describe('readYamlSpec', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-spec-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads, parses and names the path in errors', async () => {
    const file = join(dir, 'ok.yaml')
    await writeFile(file, 'name: a\nitems: []\n')
    expect(await readYamlSpec(file, schema)).toEqual({ name: 'a', items: [] })
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'name: a\nitems: 3\n')
    await expect(readYamlSpec(bad, schema)).rejects.toThrow(
      `${bad}:2:8: items: expected array, received number`,
    )
  })

  it('refuses a missing file with a usage error', async () => {
    const missing = join(dir, 'nope.yaml')
    await expect(readYamlSpec(missing, schema)).rejects.toMatchObject({
      code: 'USAGE',
      message: `cannot read ${missing}: no such file`,
    })
  })
})
