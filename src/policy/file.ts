import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Policy } from './load.js'

// Finding the policy file, apart from loading it: a writing command that finds none (the usual case for
// sync and copy) never imports the policy's schema, checks and key handling (cli/policy-flags.ts).

export const DEFAULT_POLICY_FILE = 'ferry.policy.yaml'
/** Names the policy file for every command that writes, wherever it runs (CI, a wrapper script). */
export const POLICY_ENV = 'FERRY_POLICY'

/** How a writing command was told about the policy (`--no-policy` is the caller's: it then loads none). */
export interface PolicyChoice {
  /** `--policy FILE`: must exist. */
  file?: string
  /** Default process.env. */
  env?: NodeJS.ProcessEnv
  /** Where ./ferry.policy.yaml is looked for; default the working directory (and the path stays relative). */
  cwd?: string
}

/**
 * The policy file a writing command applies: `--policy FILE`, else `$FERRY_POLICY`, else
 * `./ferry.policy.yaml` when it exists (the first two must exist: a name given and not found is an
 * error at load, never a silent "no policy"). Undefined: none.
 */
export function policyFileFor(choice: PolicyChoice = {}): string | undefined {
  if (choice.file !== undefined) return choice.file
  const fromEnv = (choice.env ?? process.env)[POLICY_ENV]
  if (fromEnv) return fromEnv
  const here = choice.cwd === undefined ? DEFAULT_POLICY_FILE : join(choice.cwd, DEFAULT_POLICY_FILE)
  return existsSync(here) ? here : undefined
}

/**
 * The policy `choice` leads to, loaded; undefined without one. The schema, checks and keys a policy
 * needs are imported only when there is a file to load (bench/README.md, "Start-up").
 */
export async function loadPolicyFor(choice: PolicyChoice = {}): Promise<Policy | undefined> {
  const path = policyFileFor(choice)
  if (path === undefined) return undefined
  const { loadPolicy } = await import('./load.js')
  return loadPolicy(path)
}
