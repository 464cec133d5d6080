import { accessSync, constants } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'

/** The programs the tests run, with the Debian/Ubuntu package that installs each (the README's Quick start). */
export const TEST_TOOLS = [
  { bin: '/usr/bin/docker-registry', pkg: 'docker-registry' },
  { bin: 'skopeo', pkg: 'skopeo' },
  { bin: 'umoci', pkg: 'umoci' },
  { bin: 'openssl', pkg: 'openssl' },
  { bin: 'softhsm2-util', pkg: 'softhsm2' },
  { bin: 'pkcs11-tool', pkg: 'opensc' },
] as const

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/** The tools that cannot be run: an absolute path that is not executable, or a name on no PATH entry. */
export function missingTools(
  tools: readonly { bin: string; pkg: string }[] = TEST_TOOLS,
  path = process.env.PATH ?? '',
): { bin: string; pkg: string }[] {
  const dirs = path.split(delimiter).filter(Boolean)
  return tools.filter(
    (t) => !(isAbsolute(t.bin) ? executable(t.bin) : dirs.some((d) => executable(join(d, t.bin)))),
  )
}

/** One message for all of them, with the command that installs them. */
export function missingToolsMessage(missing: readonly { bin: string; pkg: string }[]): string {
  const list = missing.map((t) => `${t.bin} (Debian package ${t.pkg})`).join(', ')
  return (
    `the tests need programs that are not installed: ${list}. ` +
    `On Debian/Ubuntu: sudo apt-get install ${missing.map((t) => t.pkg).join(' ')}`
  )
}
