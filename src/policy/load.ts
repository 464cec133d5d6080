import type { KeyObject } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { FerryError } from '../errors.js'
import { keyFingerprint } from '../sign/keys.js'
import { readYamlSpec } from '../spec/yaml.js'
import { loadPublicKey } from '../supply/index.js'
import { type EnvironmentRules, type PolicyFile, policySchema } from './schema.js'

export const DEFAULT_POLICY_FILE = 'ferry.policy.yaml'
/** Names the policy file for every command that writes, wherever it runs (CI, a wrapper script). */
export const POLICY_ENV = 'FERRY_POLICY'

export interface VerificationKey {
  /** As written in the policy file. */
  name: string
  path: string
  key: KeyObject
  /** `sha256:HEX` of the key's SubjectPublicKeyInfo (DER): what the evidence names. */
  fingerprint: string
}

export interface Environment extends EnvironmentRules {
  keys: VerificationKey[]
}

export interface Policy extends Omit<PolicyFile, 'environments'> {
  /** The file it was read from: key paths are relative to it. */
  path: string
  environments: Environment[]
}

/** Reads and checks a policy file, and loads every verification key it names (so a bad path fails now). */
export async function loadPolicy(path: string = DEFAULT_POLICY_FILE): Promise<Policy> {
  const file = await readYamlSpec(path, policySchema)
  const base = dirname(resolve(path))
  const loaded = new Map<string, VerificationKey>()
  const keyFor = async (name: string): Promise<VerificationKey> => {
    const keyPath = resolve(base, name)
    let found = loaded.get(keyPath)
    if (!found) {
      const key = await loadPublicKey(keyPath)
      found = { name, path: keyPath, key, fingerprint: keyFingerprint(key) }
      loaded.set(keyPath, found)
    }
    return found
  }
  const environments: Environment[] = []
  for (const env of file.environments) {
    const keys = []
    for (const name of env.require?.signature?.keys ?? []) keys.push(await keyFor(name))
    environments.push({ ...env, keys })
  }
  return {
    ...file,
    path,
    environments,
    ...(file.ledger === undefined ? {} : { ledger: resolve(base, file.ledger) }),
  }
}

export function environmentNamed(policy: Policy, name: string): Environment {
  const env = policy.environments.find((e) => e.name === name)
  if (!env) {
    const known = policy.environments.map((e) => e.name).join(', ') || 'none'
    throw new FerryError('USAGE', `${policy.path}: no environment "${name}" (defined: ${known})`)
  }
  return env
}

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

/** The policy `choice` leads to, loaded; undefined without one. */
export async function loadPolicyFor(choice: PolicyChoice = {}): Promise<Policy | undefined> {
  const path = policyFileFor(choice)
  return path === undefined ? undefined : loadPolicy(path)
}
