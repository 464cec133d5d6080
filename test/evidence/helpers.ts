import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect } from 'vitest'
import { type CliResult, ferry } from '../helpers/cli.js'

export { type Entry, readEntries, writeEntries } from '../bundle/helpers.js'

export const PASSWORD = 'evidence-Pa55'
/** One fixed capture time for every pack of the tests: packs of the same input are then byte-identical. */
export const EPOCH = '1714557600' // 2024-05-01T10:00:00Z
export const env = { FERRY_PASSWORD: PASSWORD, SOURCE_DATE_EPOCH: EPOCH }

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `ferry-evidence-${prefix}-`))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** A captured directory: two files, one in a subdirectory, with content no other entry holds. */
export async function evidenceDir(root: string, name = 'disk-dump'): Promise<string> {
  const dir = join(root, name)
  await mkdir(join(dir, 'var', 'log'), { recursive: true })
  await writeFile(join(dir, 'notes.txt'), 'seized from host db-3 at 09:40\n')
  await writeFile(
    join(dir, 'var', 'log', 'auth.log'),
    'May  1 09:12:01 db-3 sshd[812]: Accepted key for root\n',
  )
  return dir
}

export const run = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  ferry(args, { env: { ...env, ...extra } })

/** `ferry evidence verify FILE ARGS` must fail with exit 5 and a message matching `message`. */
export async function refusedByVerify(file: string, message: RegExp, args: string[] = []): Promise<void> {
  const r = await run(['evidence', 'verify', file, ...args])
  expect(r.code, r.stdout + r.stderr).toBe(5)
  expect(r.stderr).toMatch(message)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
}

/** Runs a system tool (tar, sha256sum, openssl) and returns its result. */
export function tool(command: string, args: string[], cwd: string) {
  return spawnSync(command, args, { cwd, encoding: 'utf8' })
}
