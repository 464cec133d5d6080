import { z } from 'zod'
import { FerryError } from '../errors.js'
import { detectSbomFormat, type SbomFormat } from './sbom.js'

/** What a person deciding about an image asks of its SBOM first: how much is in it, under which licences. */
export interface SbomSummary {
  format: SbomFormat
  /** `SPDX-2.3`, `CycloneDX 1.5`. */
  version: string
  /** The document's name (SPDX) or its main component (CycloneDX), as written. */
  name?: string
  packages: number
  /** Licence (SPDX identifier or expression, as written) → packages that carry it, most first. */
  licenses: { license: string; packages: number }[]
  /** Packages that declare no licence (or NOASSERTION / NONE). */
  unlicensed: number
}

// Loose: SBOMs carry far more than this reads, and generators disagree on what is optional.
const spdxSchema = z.looseObject({
  spdxVersion: z.string(),
  name: z.string().optional(),
  packages: z
    .array(
      z.looseObject({
        licenseConcluded: z.string().optional(),
        licenseDeclared: z.string().optional(),
      }),
    )
    .optional(),
})

const cdxLicense = z.looseObject({
  license: z.looseObject({ id: z.string().optional(), name: z.string().optional() }).optional(),
  expression: z.string().optional(),
})
const cdxComponent = z.looseObject({
  licenses: z.array(cdxLicense).optional(),
  get components() {
    return z.array(cdxComponent).optional()
  },
})
const cyclonedxSchema = z.looseObject({
  specVersion: z.string().optional(),
  metadata: z
    .looseObject({ component: z.looseObject({ name: z.string().optional() }).optional() })
    .optional(),
  components: z.array(cdxComponent).optional(),
})

type CdxComponent = z.infer<typeof cdxComponent>

const NO_LICENSE = new Set(['', 'NOASSERTION', 'NONE'])

function count(licenses: (string | undefined)[]): Pick<SbomSummary, 'licenses' | 'unlicensed'> {
  const byLicense = new Map<string, number>()
  let unlicensed = 0
  for (const l of licenses) {
    const name = l?.trim() ?? ''
    if (NO_LICENSE.has(name)) unlicensed++
    else byLicense.set(name, (byLicense.get(name) ?? 0) + 1)
  }
  const sorted = [...byLicense].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  return { licenses: sorted.map(([license, packages]) => ({ license, packages })), unlicensed }
}

/** Nested components count too (CycloneDX nests a package's own parts under it). */
function flatten(components: readonly CdxComponent[]): CdxComponent[] {
  return components.flatMap((c) => [c, ...flatten(c.components ?? [])])
}

function cdxLicenseOf(c: CdxComponent): string | undefined {
  const names = (c.licenses ?? []).map((l) => l.expression ?? l.license?.id ?? l.license?.name)
  const known = names.filter((n): n is string => !!n)
  return known.length ? known.join(' AND ') : undefined
}

function parsed<T>(schema: z.ZodType<T>, doc: unknown, source: string): T {
  const result = schema.safeParse(doc)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  throw new FerryError('USAGE', `${source}: ${issue.path.join('.') || 'document'}: ${issue.message}`)
}

/**
 * Counts of an SPDX 2.x or CycloneDX JSON document: packages (components, nested ones included) and
 * their licences (SPDX: concluded, else declared). Throws a FerryError when the bytes are neither.
 */
export function summarizeSbom(bytes: Uint8Array, source = 'SBOM'): SbomSummary {
  const format = detectSbomFormat(bytes, source)
  const doc: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'))
  if (format === 'spdx') {
    const spdx = parsed(spdxSchema, doc, source)
    const packages = spdx.packages ?? []
    const licenses = packages.map((p) =>
      p.licenseConcluded && !NO_LICENSE.has(p.licenseConcluded) ? p.licenseConcluded : p.licenseDeclared,
    )
    return {
      format,
      version: spdx.spdxVersion,
      ...(spdx.name ? { name: spdx.name } : {}),
      packages: packages.length,
      ...count(licenses),
    }
  }
  const cdx = parsed(cyclonedxSchema, doc, source)
  const components = flatten(cdx.components ?? [])
  const name = cdx.metadata?.component?.name
  return {
    format,
    version: `CycloneDX ${cdx.specVersion ?? '?'}`,
    ...(name ? { name } : {}),
    packages: components.length,
    ...count(components.map(cdxLicenseOf)),
  }
}
