// Governance: the policy file and the checks it asks for (naming, labels, signatures, SBOMs, tags).
export {
  type CheckImageOptions,
  type CheckSummary,
  type CheckVerdict,
  type ContentCheck,
  checkContent,
  checkEvidence,
  checkImage,
  checkName,
  checkPushedImage,
  describeCheck,
  evidenceEnvironments,
  failuresOf,
  type ImageCheck,
  immutableCheck,
  type NameCheck,
  type NameCheckOptions,
  type PolicyCheck,
  type PushedImageOptions,
  type RecordedTagDigest,
  refusalReason,
  removalCheck,
  summarize,
} from './check.js'
export { type Duration, durationSchema, parseDuration } from './duration.js'
export { type FoundLabel, labelsOf, TRACE_LABELS, type TraceLabels, traceLabels } from './labels.js'
export {
  DEFAULT_POLICY_FILE,
  type Environment,
  environmentKeySet,
  environmentNamed,
  loadPolicy,
  loadPolicyFor,
  POLICY_ENV,
  type Policy,
  type PolicyChoice,
  type PolicyTrust,
  policyFileFor,
  policyKeySet,
  type RevokedKey,
  type VerificationKey,
  withPolicyTrust,
} from './load.js'
export {
  environmentFor,
  environmentMatches,
  formatName,
  type ImageName,
  type Judges,
  judgesFor,
} from './match.js'
export { repositoryMatches } from './repository-glob.js'
export { checkForbiddenTags, type RuleId } from './rules.js'
export {
  type EnvironmentRetention,
  type EnvironmentRules,
  type Mode,
  type PolicyFile,
  policyJsonSchema,
  policySchema,
  type RetentionRules,
} from './schema.js'
