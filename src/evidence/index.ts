// Evidence packs: reproducible, hash-listed, signed archives of files and images with a chain of custody.
export { type AppendCustodyOptions, type AppendCustodyResult, appendCustody } from './append.js'
export { CUSTODY_ACTIONS, type CustodyAction, type CustodyEvent } from './custody.js'
export { EVIDENCE_ARTIFACT_TYPE } from './format.js'
export { type PackEvidenceOptions, type PackEvidenceResult, packEvidence } from './pack.js'
export { type PushEvidenceOptions, type PushEvidenceResult, pushEvidence } from './push.js'
export {
  type CustodyRecord,
  type EvidenceListing,
  type EvidenceVerification,
  listEvidence,
  type VerifyEvidenceOptions,
  verifyEvidence,
} from './verify.js'
