import type { KeyObject } from 'node:crypto'
import { dirname, resolve } from 'node:path'
import { FerryError } from '../errors.js'
import type { KeySet } from '../sign/key-set.js'
import { FINGERPRINT_RE, keyName, type TrustedKey } from '../sign/trust.js'
import { readYamlSpec } from '../spec/yaml.js'
import { DEFAULT_POLICY_FILE } from './file.js'
import { type EnvironmentRules, type KeyEntry, type PolicyFile, policySchema } from './schema.js'

export { DEFAULT_POLICY_FILE, loadPolicyFor, POLICY_ENV, type PolicyChoice, policyFileFor } from './file.js'

export interface VerificationKey {
  /** As written in the policy file. */
  name: string
  path: string
  key: KeyObject
  /** `sha256:HEX` of the key's SubjectPublicKeyInfo (DER): what the evidence names. */
  fingerprint: string
  /** The key's validity window (RFC 3339, as written): its signatures count only within it. */
  notBefore?: string
  notAfter?: string
}

/** A key of `trust.revoked`: by fingerprint, or by its file (then `name` and `key` are known). */
export interface RevokedKey {
  fingerprint: string
  name?: string
  key?: KeyObject
}

export interface PolicyTrust {
  /** Every key the environments name, each once, with its window. */
  keys: VerificationKey[]
  revoked: RevokedKey[]
}

export interface Environment extends EnvironmentRules {
  keys: VerificationKey[]
  /** The file's revoked keys (`trust.revoked`): the same in every environment. */
  revoked: RevokedKey[]
}

export interface Policy extends Omit<PolicyFile, 'environments' | 'trust'> {
  /** The file it was read from: key paths are relative to it. */
  path: string
  environments: Environment[]
  trust: PolicyTrust
}

const windowOf = (k: { notBefore?: string; notAfter?: string }) =>
  [k.notBefore && `notBefore ${k.notBefore}`, k.notAfter && `notAfter ${k.notAfter}`]
    .filter(Boolean)
    .join(', ') || 'no window'

/** Reads and checks a policy file, and loads every key it names (so a bad path fails now). */
export async function loadPolicy(path: string = DEFAULT_POLICY_FILE): Promise<Policy> {
  const file = await readYamlSpec(path, policySchema)
  const base = dirname(resolve(path))
  const loaded = new Map<string, { name: string; path: string; key: KeyObject; fingerprint: string }>()
  const keyFile = async (name: string) => {
    const keyPath = resolve(base, name)
    let found = loaded.get(keyPath)
    if (!found) {
      // The key code (and its crypto libraries) loads only for a policy that names keys.
      const [{ loadPublicKey }, { keyFingerprint }] = await Promise.all([
        import('../supply/key-files.js'),
        import('../sign/keys.js'),
      ])
      const key = await loadPublicKey(keyPath)
      found = { name, path: keyPath, key, fingerprint: keyFingerprint(key) }
      loaded.set(keyPath, found)
    }
    return found
  }
  const keyFor = async (entry: KeyEntry): Promise<VerificationKey> => {
    if (typeof entry === 'string') return keyFile(entry)
    const { path: name, ...window } = entry
    return { ...(await keyFile(name)), ...window }
  }
  const revoked: RevokedKey[] = []
  for (const entry of file.trust?.revoked ?? []) {
    if (FINGERPRINT_RE.test(entry)) revoked.push({ fingerprint: entry })
    else revoked.push(await keyFile(entry))
  }
  const environments: Environment[] = []
  const windows = new Map<string, { key: VerificationKey; environment: string }>()
  for (const env of file.environments) {
    const keys = []
    for (const entry of env.require?.signature?.keys ?? []) {
      const key = await keyFor(entry)
      const seen = windows.get(key.fingerprint)
      // A key's window is a fact about the key: two answers to "is it valid now?" would be a policy
      // that trusts a key in one environment after another has let it expire.
      if (seen && windowOf(seen.key) !== windowOf(key)) {
        throw new FerryError(
          'USAGE',
          `${path}: key ${keyName({ fingerprint: key.fingerprint, path: key.name })} has two validity windows (${windowOf(seen.key)} in environment ${seen.environment}, ${windowOf(key)} in environment ${env.name}); give every entry of a key the same notBefore and notAfter`,
        )
      }
      if (!seen) windows.set(key.fingerprint, { key, environment: env.name })
      keys.push(key)
    }
    environments.push({ ...env, keys, revoked })
  }
  const trust = { keys: [...windows.values()].map((w) => w.key), revoked }
  return {
    ...file,
    path,
    environments,
    trust,
    ...(file.ledger === undefined ? {} : { ledger: resolve(base, file.ledger) }),
  }
}

/** What the trust decision reads of a key: its fingerprint, its name as written, its window. */
export const trustedKeyOf = (k: VerificationKey): TrustedKey & { key: KeyObject } => ({
  key: k.key,
  fingerprint: k.fingerprint,
  path: k.name,
  ...(k.notBefore === undefined ? {} : { notBefore: k.notBefore }),
  ...(k.notAfter === undefined ? {} : { notAfter: k.notAfter }),
})

const revokedRefOf = (r: RevokedKey) => ({
  fingerprint: r.fingerprint,
  ...(r.name === undefined ? {} : { path: r.name }),
  ...(r.key === undefined ? {} : { key: r.key }),
})

/** The keys an environment's signatures are checked with, and what its file revokes. */
export const environmentKeySet = (env: Environment): KeySet => ({
  keys: env.keys.map(trustedKeyOf),
  revoked: env.revoked.map(revokedRefOf),
})

/** Every key the policy names, each once with its window, and what it revokes: serve's UI checks with it. */
export const policyKeySet = (policy: Policy): KeySet => ({
  keys: policy.trust.keys.map(trustedKeyOf),
  revoked: policy.trust.revoked.map(revokedRefOf),
})

/**
 * The keys of a command that takes them from flags (`verify --key`), judged by a policy's trust: a key
 * the policy lists keeps its window there, and the policy's revoked keys are revoked here too.
 */
export function withPolicyTrust(keys: KeySet, policy: Policy): KeySet {
  const windows = new Map(policy.trust.keys.map((k) => [k.fingerprint, trustedKeyOf(k)]))
  return {
    keys: keys.keys.map((k) => {
      const w = windows.get(k.fingerprint)
      return w ? { ...k, notBefore: w.notBefore, notAfter: w.notAfter } : k
    }),
    revoked: [...keys.revoked, ...policy.trust.revoked.map(revokedRefOf)],
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
