import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'

/** Layout paths the file system refuses: one line naming the path, at once (Node's recursive mkdir spins under /proc). */
describe('bad layout paths (built CLI)', { timeout: 120_000 }, () => {
  let dir: string
  let source: string
  let file: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-bad-paths-'))
    source = join(dir, 'src')
    const target = await openLayoutTarget(source, { create: true })
    await pushSyntheticImage(target, { seed: 'paths', layers: 1, layerSize: 1000 }, '1')
    await target.close()
    file = join(dir, 'a-file')
    await writeFile(file, 'not a directory')
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const copyTo = (path: string) =>
    ferry(['copy', `oci:${source}:1`, `oci:${path}:1`], { killAfterMs: 20_000 })

  it.each([
    [
      '/proc/nope',
      '/proc/nope: cannot use as an OCI image layout: does not exist and cannot be created there (ENOENT)',
    ],
    [
      '/proc/nope/deeper',
      '/proc/nope/deeper: cannot use as an OCI image layout: /proc/nope does not exist and cannot be created there (ENOENT)',
    ],
  ])('copy to oci:%s fails at once with one line', async (path, line) => {
    const started = Date.now()
    const r = await copyTo(path)
    expect(r.code).toBe(1)
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(r.stderr).toBe(`ferry: ${line}\n`)
  })

  it('a file in the way, as destination or source: one line naming the file', async () => {
    const below = join(file, 'sub', 'layout')
    const dst = await copyTo(below)
    expect(dst.code).toBe(1)
    expect(dst.stderr).toBe(
      `ferry: ${below}: cannot use as an OCI image layout: ${file} is not a directory (ENOTDIR)\n`,
    )
    const src = await ferry(['inspect', `oci:${join(file, 'sub')}:1`], { killAfterMs: 20_000 })
    expect(src.code).toBe(1)
    expect(src.stderr).toBe(
      `ferry: ${join(file, 'sub')}: cannot use as an OCI image layout: ${file} is not a directory (ENOTDIR)\n`,
    )
    const itself = await copyTo(file)
    expect(itself.stderr).toBe(`ferry: ${file}: not a directory\n`)
  })
})
