import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** Where `npm run build:exe` (scripts/build-exe.js) writes the executable, its addon and SHA256SUMS. */
export const EXE_DIR = join(import.meta.dirname, '..', '..', 'dist', 'exe')
export const EXE_NAME = `ferry-linux-${process.arch}`

/** The ship tests test what was built; they do not build it (that is `npm run build:exe`, once, in .ci/run). */
export function needExecutable(): void {
  if (!existsSync(join(EXE_DIR, EXE_NAME))) {
    throw new Error(`${join(EXE_DIR, EXE_NAME)} is missing: run \`npm run build:exe\` first`)
  }
}
