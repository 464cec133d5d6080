import { Flags } from '@oclif/core'
import { FerryError } from '../src/errors.js'
import { DEFAULT_POLICY_FILE, loadPolicyFor, POLICY_ENV, policyFileFor } from '../src/policy/file.js'
import type { Policy } from '../src/policy/index.js'
import type { Governance } from '../src/promote/index.js'

/**
 * The policy flags of a command that writes or removes a tag or manifest (copy, sync, promote, tag,
 * delete, bundle import, retention restore): one way to find the file and one way to
 * opt out, so that a policy which protects a tag protects it from every command.
 */
export const policyFlags = {
  policy: Flags.string({
    description: `The policy file. Default: $${POLICY_ENV}, else ${DEFAULT_POLICY_FILE} in the working directory when it exists.`,
    exclusive: ['no-policy'],
  }),
  'no-policy': Flags.boolean({
    description: `Apply no policy, not even $${POLICY_ENV} or ./${DEFAULT_POLICY_FILE} (said on stderr).`,
  }),
  environment: Flags.string({
    description:
      'Add this environment’s rules to those of the environments the destination matches: it can only tighten them.',
  }),
}

/**
 * The policy a writing command applies, loaded (undefined: none). `--no-policy` says on stderr, in one
 * line, which file it left unread; `--environment` without any policy is a usage error.
 */
export async function commandPolicy(
  flags: { policy?: string; 'no-policy'?: boolean; environment?: string },
  note: (line: string) => void,
): Promise<Policy | undefined> {
  if (flags['no-policy']) {
    if (flags.environment !== undefined)
      throw new FerryError(
        'USAGE',
        `--environment ${flags.environment} needs a policy; --no-policy applies none`,
      )
    const skipped = policyFileFor()
    note(
      `ferry: --no-policy: no policy rules apply${skipped === undefined ? '' : ` (${skipped} is not read)`}`,
    )
    return undefined
  }
  const policy = await loadPolicyFor({ file: flags.policy })
  if (!policy && flags.environment !== undefined) {
    throw new FerryError(
      'USAGE',
      `--environment ${flags.environment}: no policy file (give --policy FILE, set $${POLICY_ENV} or add ./${DEFAULT_POLICY_FILE})`,
    )
  }
  return policy
}

/** The policy flags and `--ledger`, for every command that writes or removes a tag or manifest. */
export const governanceFlags = {
  ...policyFlags,
  ledger: Flags.string({
    description:
      'Append one hash-chained JSON line per attempt, refusals included, to this ledger (see `ferry ledger`). Default: the policy file’s `ledger:`.',
  }),
}

/** The policy (as commandPolicy finds it) and the ledger (`--ledger`, else the policy file's `ledger:`). */
export async function commandGovernance(
  flags: { policy?: string; 'no-policy'?: boolean; environment?: string; ledger?: string },
  note: (line: string) => void,
  ferryVersion: string,
): Promise<Governance> {
  const policy = await commandPolicy(flags, note)
  const ledger = flags.ledger ?? policy?.ledger
  return {
    ...(policy ? { policy } : {}),
    ...(flags.environment !== undefined ? { environment: flags.environment } : {}),
    ...(ledger !== undefined ? { ledger } : {}),
    ferryVersion,
  }
}

/**
 * The policy of a command whose rules come from it (retention): found as every writing command finds
 * it, and required.
 */
export async function requiredPolicy(file: string | undefined, command: string): Promise<Policy> {
  const policy = await loadPolicyFor({ file })
  if (!policy) {
    throw new FerryError(
      'USAGE',
      `${command} needs a policy file: give --policy FILE, set $${POLICY_ENV} or add ./${DEFAULT_POLICY_FILE}`,
    )
  }
  return policy
}
