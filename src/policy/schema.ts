/**
 * `ferry.policy.yaml`: the governance rules a registry's images are checked against, in the vocabulary
 * Kyverno, sigstore policy-controller and Harbor users already write. Unknown fields are errors (a typo
 * must not silently switch a rule off), and every error points at its line (spec/yaml.ts).
 */
import { z } from 'zod'
import { FINGERPRINT_RE } from '../sign/trust.js'
import { patternSchema, tagFilterSchema } from '../spec/tag-filter.js'
import { durationSchema } from './duration.js'
import { repositoryGlobProblem } from './repository-glob.js'

/** `{org}/{project}/{service}`: placeholders stand for one lower-case name each, literals for themselves. */
const PLACEHOLDER_RE = /^\{[a-z][a-z0-9_-]*\}$/
const LITERAL_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/

const namingTemplate = z.string().superRefine((value, ctx) => {
  const bad = value.split('/').find((s) => !PLACEHOLDER_RE.test(s) && !LITERAL_RE.test(s))
  if (bad !== undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `segment "${bad}" is neither a {placeholder} nor a lower-case repository name component`,
    })
  }
})

/**
 * The repository path after the host. Global, or an environment's: that one replaces the global for the
 * names in the environment (a legacy registry with two segments, a sandbox under one prefix).
 */
const namingSchema = z.strictObject({ repository: namingTemplate })

/** HOST/PATH globs in doublestar syntax: `**` crosses "/", `*` and `?` stay within one segment. */
const repositoryGlob = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9._\-/*?:[\]{}!,]+$/, {
    message: 'a repository glob holds name characters, "/", ":" and the wildcards * ** ? [..] {a,b}',
  })
  .superRefine((glob, ctx) => {
    const problem = repositoryGlobProblem(glob)
    if (problem) ctx.addIssue({ code: 'custom', message: `"${glob}" matches no repository: ${problem}` })
  })

/** RFC 3339 with a zone: a bound of a key's validity window means one instant everywhere. */
const instant = z.iso.datetime({
  offset: true,
  message: 'an RFC 3339 time with its zone, e.g. 2026-06-30T00:00:00Z',
})

/**
 * A verification key: the path of its public key file (relative to the policy file), or the path with
 * the window its signatures count in (`notBefore`, `notAfter`: both inclusive, either may be left out).
 */
const keyEntry = z.union(
  [
    z.string().min(1),
    z
      .strictObject({ path: z.string().min(1), notBefore: instant.optional(), notAfter: instant.optional() })
      .refine((k) => !k.notBefore || !k.notAfter || Date.parse(k.notBefore) <= Date.parse(k.notAfter), {
        message: 'notBefore is after notAfter: the key would never be valid',
      }),
  ],
  { error: 'a key: the path of a public key file, or { path, notBefore, notAfter }' },
)

/** A revoked key: its `sha256:` fingerprint (`ferry key fingerprint K.pub`), or its public key file. */
const revokedKey = z
  .string()
  .min(1)
  .refine((v) => !v.startsWith('sha256:') || FINGERPRINT_RE.test(v), {
    message: 'a fingerprint is sha256: and 64 lower-case hex digits, as ferry key fingerprint prints it',
  })

/** Keys no signature may count by, whichever environment lists them. */
const trustSchema = z.strictObject({ revoked: z.array(revokedKey).default([]) })

/**
 * An environment's retention: `protect: true` (retention never deletes its tags), or `keep`, the `count`
 * newest versions together with every tag younger than `within` (either alone is allowed).
 */
const environmentRetentionSchema = z.union([
  z.strictObject({ protect: z.literal(true) }),
  z.strictObject({
    keep: z
      .strictObject({
        count: z.number().int().nonnegative().optional(),
        within: durationSchema.optional(),
      })
      .refine((k) => k.count !== undefined || k.within !== undefined, {
        message: 'keeps nothing: give count, within or both',
      }),
  }),
])

/** Rules for the whole file: tag patterns no environment may delete, untagged manifests, a grace period. */
const retentionSchema = z.strictObject({
  protect: z.array(patternSchema).default([]),
  untagged: z.enum(['keep', 'delete']).default('keep'),
  grace: durationSchema.optional(),
})

const environmentSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'a name of letters, digits, ".", "_", "-"' }),
    match: z
      .strictObject({
        repositories: z.array(repositoryGlob).min(1).optional(),
        tags: tagFilterSchema.optional(),
      })
      .refine((m) => m.repositories !== undefined || m.tags !== undefined, {
        message: 'matches nothing: give repositories, tags or both',
      }),
    mode: z.enum(['enforce', 'warn']).default('enforce'),
    naming: namingSchema.optional(),
    require: z
      .strictObject({
        signature: z.strictObject({ keys: z.array(keyEntry).min(1) }).optional(),
        sbom: z.boolean().optional(),
      })
      .optional(),
    forbid: z.strictObject({ tags: z.array(patternSchema).min(1).optional() }).optional(),
    tags: z.strictObject({ semver: z.boolean().optional() }).optional(),
    immutable: z.boolean().optional(),
    retention: environmentRetentionSchema.optional(),
  })
  .refine((e) => !e.require?.sbom || e.require.signature !== undefined, {
    message: 'require.sbom needs require.signature.keys: the SBOM must be signed with one of those keys',
    path: ['require', 'sbom'],
  })

export const policySchema = z
  .strictObject({
    version: z.literal(1),
    naming: namingSchema.optional(),
    labels: z.strictObject({ require: z.array(z.string().min(1)).min(1) }).optional(),
    environments: z.array(environmentSchema).default([]),
    retention: retentionSchema.optional(),
    trust: trustSchema.optional(),
    /**
     * The ledger every writing command appends its attempts to when `--ledger` is not given (a path
     * relative to this file).
     */
    ledger: z.string().min(1).optional(),
  })
  .superRefine((policy, ctx) => {
    const seen = new Set<string>()
    for (const [i, env] of policy.environments.entries()) {
      if (seen.has(env.name)) {
        ctx.addIssue({
          code: 'custom',
          message: `environment "${env.name}" is defined twice`,
          path: ['environments', i, 'name'],
        })
      }
      seen.add(env.name)
    }
  })

export type PolicyFile = z.infer<typeof policySchema>
export type EnvironmentRules = PolicyFile['environments'][number]
export type Mode = EnvironmentRules['mode']
export type EnvironmentRetention = NonNullable<EnvironmentRules['retention']>
export type RetentionRules = z.infer<typeof retentionSchema>
export type KeyEntry = z.infer<typeof keyEntry>

/** The JSON Schema of the file, for editors (yaml-language-server) and CI linters. */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://ferry.dev/schemas/policy-v1.json',
    title: 'ferry policy file (ferry.policy.yaml)',
    ...z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any' }),
  }
}
