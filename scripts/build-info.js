#!/usr/bin/env node
// Part of `npm run build`: writes the commit the build comes from into dist/cli/build-info.js (whose source
// holds no values), for `ferry version` and the image's labels. SOURCE_DATE_EPOCH, when set, replaces the
// commit time, as reproducible builds expect. Outside a git checkout (a build from the npm tarball) the
// compiled module is left as it is.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** What git says about the checkout at `root`, or undefined where there is no git or no checkout. */
export function gitBuildInfo(dir = root) {
  const git = (...args) => execFileSync('git', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' }).trim()
  try {
    const commit = git('rev-parse', 'HEAD')
    const dirty = git('status', '--porcelain', '--untracked-files=no') !== ''
    const epoch = process.env.SOURCE_DATE_EPOCH ?? git('log', '-1', '--format=%ct', 'HEAD')
    return {
      commit: dirty ? `${commit}-dirty` : commit,
      commitTime: new Date(Number(epoch) * 1000).toISOString().replace('.000Z', 'Z'),
    }
  } catch {
    return undefined
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const info = gitBuildInfo()
  if (info) {
    writeFileSync(
      join(root, 'dist', 'cli', 'build-info.js'),
      `// Written by scripts/build-info.js.\nexport const BUILD_INFO = ${JSON.stringify(info)};\n`,
    )
  }
}
