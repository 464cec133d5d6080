import { Flags } from '@oclif/core'
import type { Policy } from '../src/policy/index.js'
import type { KeySet } from '../src/sign/key-set.js'
import { repeatable } from './args.js'

/**
 * `--revoked` and `--policy` of the commands that take their keys from `--key` (verify, pin, bundle
 * verify; bundle import takes --revoked, and its governing policy's trust): one way to say which keys
 * must not be believed, judged by the one trust decision.
 */
export const revokedFlag = (opts: { dependsOn?: string[] } = {}) =>
  Flags.string({
    description:
      'A key whose signatures never count: its sha256: fingerprint (ferry key fingerprint K.pub) or its public key file. Repeatable.',
    ...repeatable,
    ...opts,
  })

export const trustPolicyFlag = (opts: { dependsOn?: string[] } = {}) =>
  Flags.string({
    description:
      'A policy file whose key trust applies: its trust.revoked keys are revoked, and a --key it lists with notBefore/notAfter counts only within that window. Its other rules are not checked here (ferry policy check does).',
    ...opts,
  })

/**
 * The keys `--key` names, judged with `--revoked` and the trust of a policy: `loaded` (a command that
 * found its policy already, as bundle import does), else the file `--policy` names. Loaded on demand:
 * the key files module brings the Sigstore libraries with it.
 */
export async function flagKeySet(
  flags: { key?: string[]; revoked?: string[]; policy?: string },
  loaded?: Policy,
): Promise<KeySet> {
  const { loadKeySet } = await import('../src/supply/key-files.js')
  const keys = await loadKeySet(flags.key ?? [], flags.revoked ?? [])
  if (!loaded && flags.policy === undefined) return keys
  const { loadPolicy, withPolicyTrust } = await import('../src/policy/index.js')
  return withPolicyTrust(keys, loaded ?? (await loadPolicy(flags.policy)))
}
