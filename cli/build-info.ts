/**
 * Which commit this build of ferry was made from. The source says nothing; `npm run build` writes the
 * values into the compiled module (scripts/build-info.js), so the npm package, the single executable and
 * the image all carry the commit they were built from. A build outside a git checkout has none.
 */
export interface BuildInfo {
  /** The full commit hash, with `-dirty` when the work tree had uncommitted changes. */
  commit?: string
  /** The commit's time, ISO 8601 UTC: what reproducible outputs (the image's `created`) are stamped with. */
  commitTime?: string
}

// Only this declaration: the build replaces the compiled module's whole text.
export const BUILD_INFO: BuildInfo = {}
