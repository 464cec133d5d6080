import { BUILD_INFO, type BuildInfo } from './build-info.js'

/** What the version line shows: the commit's first 12 hex digits (as git abbreviates), and `-dirty`. */
export function versionLineCommit(info: BuildInfo = BUILD_INFO): string | undefined {
  if (!info.commit) return undefined
  const [hash, ...rest] = info.commit.split('-')
  return [hash!.slice(0, 12), ...rest].join('-')
}
