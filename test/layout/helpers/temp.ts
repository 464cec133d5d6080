import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'

/** A temp directory for the test file, removed after it; `path(name)` names a fresh place inside. */
export function useTempRoot(): { path: (name: string) => string } {
  let root = ''
  let n = 0
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ferry-layout-'))
  })
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true })
  })
  return { path: (name: string) => join(root, `${name}-${n++}`) }
}
