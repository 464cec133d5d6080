import { checkImage, failuresOf, type Policy } from '../policy/index.js'
import type { ImageGate } from './gate.js'

/**
 * The governance policy as pin's gate: the rules of the environment the internal name matches (or the
 * one named), on the image by digest. Tag rules skip (a pinned reference deploys a digest); every
 * enforce-mode failure refuses the image.
 */
export function policyGate(policy: Policy, environment?: string): ImageGate {
  return async ({ target, name, digest }) => {
    const slash = name.indexOf('/')
    const check = await checkImage({
      policy,
      target,
      digest,
      name: { host: name.slice(0, slash), repository: name.slice(slash + 1) },
      environment,
    })
    return {
      ok: failuresOf(check).length === 0,
      evidence: {
        policy: policy.path,
        environment: check.environment,
        checks: check.checks.map(({ rule, result, message }) => ({ rule, result, message })),
      },
      messages: check.checks.map((c) => `${c.rule}: ${c.result}: ${c.message}`),
    }
  }
}
