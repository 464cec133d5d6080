// OCI image layout directories as ferry content targets.
export { type LayoutOptions, OciLayout, openLayoutTarget } from './layout.js'
export {
  isRefName,
  isTag,
  REF_NAME_ANNOTATION,
  REPOSITORY_ANNOTATION,
  refNameFor,
  SUBJECT_ANNOTATION,
  splitRefName,
} from './naming.js'
export { LayoutTarget } from './target.js'
