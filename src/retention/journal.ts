import { mkdir, readFile, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { isDigest } from '../oci/digest.js'
import { errno, writeFileAtomic } from '../util/files.js'

/**
 * What an apply is doing to one repository, written before the first change and after every step, so
 * that a run killed half way is finished by the next one: a digest whose tag is already gone can no
 * longer be found from the tags, and a fresh plan would leave it (and what hangs off it) behind.
 */
const digest = z.string().refine(isDigest, { message: 'not a digest' })

export const stepSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('untag'), tag: z.string(), digest }),
  /**
   * `role` and `tag` (what the plan said of the manifest) let a later run back it up as the plan would
   * have; journals written before they existed lack them.
   */
  z.strictObject({
    op: z.literal('delete-manifest'),
    digest,
    role: z.enum(['image', 'child', 'referrer', 'cosign-tag']).optional(),
    tag: z.string().optional(),
  }),
  /** A tag an interrupted untag left on ferry's placeholder: the placeholder goes, taking the tag. */
  z.strictObject({ op: z.literal('remove-placeholder'), tag: z.string(), digest }),
  /** Resolved when the step runs: deleting referrers rewrote the index, so its digest changed. */
  z.strictObject({ op: z.literal('remove-fallback'), tag: z.string(), keptIndexes: z.array(digest) }),
])
export type Step = z.infer<typeof stepSchema>

const journalSchema = z.strictObject({
  version: z.literal(1),
  repository: z.string(),
  backup: z.string().optional(),
  steps: z.array(stepSchema),
  /** Steps [0, done) have completed. */
  done: z.number().int().nonnegative(),
})
export type Journal = z.infer<typeof journalSchema>

export async function readJournal(path: string): Promise<Journal | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined
    throw err
  }
  const parsed = journalSchema.safeParse(JSON.parse(text))
  if (!parsed.success) {
    throw new FerryError(
      'USAGE',
      `${path}: unreadable retention journal (${parsed.error.issues[0]?.message}); move it away to start over`,
    )
  }
  return parsed.data
}

export async function writeJournal(path: string, journal: Journal): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFileAtomic(path, Buffer.from(JSON.stringify(journal)))
}

export const finishJournal = (path: string): Promise<void> => rm(path, { force: true })
