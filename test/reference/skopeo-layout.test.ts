import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { parseReference } from '../../src/reference/index.js'

const run = promisify(execFile)

// skopeo validates the name after `oci:DIR:` before it opens the directory, so a missing directory
// tells the two outcomes apart: "Invalid image" (name refused) or a failed open (name accepted).
async function skopeoAcceptsName(dir: string, name: string): Promise<boolean> {
  try {
    await run('skopeo', ['inspect', '--raw', `oci:${dir}:${name}`])
    return true
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr)
    if (stderr.includes('Invalid image')) return false
    if (stderr.includes('no such file or directory')) return true
    throw err
  }
}

function weAccept(ref: string): boolean {
  try {
    parseReference(ref)
    return true
  } catch (err) {
    if (isFerryError(err, 'REFERENCE_INVALID')) return false
    throw err
  }
}

describe('oci: layout names agree with skopeo', () => {
  let base: string
  let missing: string
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'ferry-ref-'))
    missing = join(base, 'no-layout-here')
  })
  afterAll(async () => {
    await rm(base, { recursive: true, force: true })
  })

  const names = [
    'v1',
    'Foo/Bar.1',
    'a:b',
    'a@b',
    'a+b',
    'a--b',
    'a_b.c-d',
    'x/y/z',
    'a---b',
    '-x',
    'x-',
    ' x',
    'x//y',
    'a::b',
    'a..b',
    'é',
  ]
  it.each(names)('%j', async (name) => {
    expect(weAccept(`oci:${missing}:${name}`)).toBe(await skopeoAcceptsName(missing, name))
  })
})
