import { FerryError } from '../errors.js'
import { type Digest, parseDigest } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import { type Descriptor, type ImageIndex, imageIndexSchema } from '../oci/schemas.js'
import { referrersTag } from '../reference/grammar.js'
import { pullScope, pushScope, type RepoContext, v2Url } from './context.js'
import { RegistryError } from './errors.js'
import { discard } from './http.js'
import { mayHaveApplied } from './network-error.js'
import { PageWalk } from './pagination.js'
import { retryLine, withRetry } from './retry.js'
import { header, type RawResponse, readLimited } from './transport.js'

/**
 * Referrers (distribution spec v1.1, "Listing Referrers"): the API at `/v2/NAME/referrers/DIGEST`,
 * or, where a registry lacks it, an index tagged `<alg>-<hex>` that clients maintain themselves
 * (the "referrers tag schema").
 */

const INDEX_LIMIT = 4 * 1024 * 1024

const isIndexResponse = (res: RawResponse) =>
  header(res, 'content-type')?.split(';')[0]?.trim() === MediaType.ociIndex

async function readIndex(res: RawResponse, what: string): Promise<ImageIndex> {
  return parseIndex(await readLimited(res, INDEX_LIMIT), what)
}

function parseIndex(text: string, what: string): ImageIndex {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new FerryError('REGISTRY', `${what}: referrers answer is not JSON`)
  }
  const parsed = imageIndexSchema.safeParse(doc)
  if (!parsed.success) throw new FerryError('REGISTRY', `${what}: referrers answer is not an OCI image index`)
  return parsed.data
}

const byType = (list: Descriptor[], artifactType?: string) =>
  artifactType ? list.filter((d) => d.artifactType === artifactType) : list

function referrersUrl(ctx: RepoContext, digest: Digest, artifactType?: string): URL {
  const url = v2Url(ctx, `referrers/${parseDigest(digest).digest}`)
  if (artifactType) url.searchParams.set('artifactType', artifactType)
  return url
}

function request(ctx: RepoContext, url: URL, what: string, expect: number[]) {
  return {
    registry: ctx.registry,
    method: 'GET' as const,
    url,
    headers: { accept: MediaType.ociIndex },
    scopes: pullScope(ctx.repository),
    subject: what,
    expect,
  }
}

/** One probe: does this registry serve the referrers API (200 with an OCI index)? */
export async function probeReferrersApi(ctx: RepoContext): Promise<boolean> {
  // Any digest will do: a registry with the API answers 200 with an empty index for unknown subjects.
  const probe = `sha256:${'0'.repeat(64)}` as Digest
  try {
    const res = await ctx.http.request(request(ctx, referrersUrl(ctx, probe), ctx.name, [200, 400, 404, 405]))
    await discard(res)
    return res.status === 200 && isIndexResponse(res)
  } catch (err) {
    // Registries without the API answer unknown routes in odd ways (401/403 on Harbor's UI paths): no API.
    if (err instanceof RegistryError) return false
    throw err
  }
}

type Page = { kind: 'index'; index: ImageIndex; filtered: boolean } | { kind: 'fallback' }

export async function listReferrers(
  ctx: RepoContext,
  digest: Digest,
  artifactType?: string,
): Promise<Descriptor[]> {
  const what = `${ctx.name}@${digest}`
  let url = referrersUrl(ctx, digest, artifactType)
  const out: Descriptor[] = []
  const walk = new PageWalk(what)
  for (let n = 0; ; n++) {
    walk.visit(url)
    const { res, value: page } = await ctx.http.fetch(
      request(ctx, url, what, [200, 404]),
      async (r): Promise<Page> => {
        if (r.status === 404) {
          const err = await ctx.http.errorFrom({ subject: what, method: 'GET' }, r)
          // NAME_UNKNOWN: the repository itself is missing, which the fallback could not fix either.
          if (err.registryCodes.includes('NAME_UNKNOWN')) throw err
          return { kind: 'fallback' }
        }
        // A registry without the API may answer 200 with something else entirely (an HTML page, a manifest).
        if (!isIndexResponse(r)) {
          await discard(r)
          return { kind: 'fallback' }
        }
        const filtered = (header(r, 'oci-filters-applied') ?? '')
          .split(',')
          .some((f) => f.trim() === 'artifactType')
        return { kind: 'index', index: parseIndex(await walk.read(r), what), filtered }
      },
    )
    if (page.kind === 'fallback') {
      if (n === 0) return fallback(ctx, digest, artifactType)
      throw new FerryError('REGISTRY', `${what}: referrers page ${n + 1} is missing`)
    }
    out.push(...(page.filtered ? page.index.manifests : byType(page.index.manifests, artifactType)))
    const next = walk.next(res, url)
    if (!next) return out
    url = next
  }
}

async function readTagIndex(ctx: RepoContext, digest: Digest) {
  const tag = referrersTag(digest)
  const what = `${ctx.name}:${tag}`
  const { res, value: index } = await ctx.http.fetch(
    request(ctx, v2Url(ctx, `manifests/${tag}`), what, [200, 404]),
    async (r) => {
      if (r.status !== 404) return readIndex(r, what)
      await discard(r)
      return undefined
    },
  )
  return { what, tag, index, etag: index ? header(res, 'etag') : undefined }
}

async function fallback(ctx: RepoContext, digest: Digest, artifactType?: string): Promise<Descriptor[]> {
  const { index } = await readTagIndex(ctx, digest)
  return byType(index?.manifests ?? [], artifactType)
}

/**
 * Read-modify-write of the tag-schema index. The PUT carries `If-Match` on the ETag read, so a registry
 * that honours it fails a concurrent writer's PUT with 412 and the cycle starts over. distribution (2.8
 * and 3) ignores `If-Match` and sends no ETag: there, two writers can still overwrite each other. So
 * writes to one subject are queued within this process (every repository of one client shares the queue),
 * and each write is read back: a change that did not stick is made again. Across processes that catches
 * an overwrite that lands before the read-back, not one that lands after it; only a registry with the
 * referrers API (or honouring If-Match) makes concurrent writers from several machines safe.
 */
export function updateTagIndex(
  ctx: RepoContext,
  subject: Digest,
  change: (list: Descriptor[]) => Descriptor[] | undefined,
): Promise<void> {
  const key = `${ctx.name}@${subject}`
  const queue = ctx.shared.referrerWrites
  const run = (queue.get(key) ?? Promise.resolve()).then(() => writeVerified(ctx, subject, change))
  const tail = run.catch(() => {})
  queue.set(key, tail)
  void tail.then(() => {
    if (queue.get(key) === tail) queue.delete(key)
  })
  return run
}

/** The change was made, then replaced by another writer's before it could be read back. */
class ChangeLost extends FerryError {}

/**
 * One read-modify-write cycle after another until the change sticks. This loop is not a retry of a
 * failed request (those the HTTP layer retries) but of a lost race: another writer's 412 or overwrite,
 * or a PUT whose answer was lost, for which the next cycle's read is the check. Its budget counts
 * cycles, at least 5 whatever the retry policy, so a few concurrent writers on a fast link get through.
 */
async function writeVerified(
  ctx: RepoContext,
  subject: Digest,
  change: (list: Descriptor[]) => Descriptor[] | undefined,
): Promise<void> {
  let what = `${ctx.name}@${subject}`
  // Set when the PUT failed in a way that may have applied (a read that fails is not retried here).
  let putLost = false
  await withRetry(
    { ...ctx.http.policy, attempts: Math.max(ctx.http.policy.attempts, 5) },
    async () => {
      putLost = false
      const read = await readTagIndex(ctx, subject)
      what = read.what
      const { tag, index, etag } = read
      const next = change([...(index?.manifests ?? [])])
      // Nothing to change: the list already says what we want (also how a write is verified).
      if (!next) return
      const doc = index
        ? { ...index, manifests: next }
        : { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: next }
      const headers: Record<string, string> = { 'content-type': MediaType.ociIndex }
      if (etag) headers['if-match'] = etag
      const res = await ctx.http
        .request({
          registry: ctx.registry,
          method: 'PUT',
          url: v2Url(ctx, `manifests/${tag}`),
          headers,
          body: Buffer.from(JSON.stringify(doc)),
          scopes: pushScope(ctx.repository),
          subject: what,
          expect: [200, 201, 202],
        })
        .catch((err: unknown) => {
          putLost = mayHaveApplied(err)
          throw err
        })
      await discard(res)
      // Read back at once: the change function answers undefined when the list holds our change.
      const after = await readTagIndex(ctx, subject)
      if (!change([...(after.index?.manifests ?? [])])) return
      throw new ChangeLost(
        'CONFLICT',
        `${what}: the referrers index keeps changing under concurrent writers; the change did not stick`,
      )
    },
    {
      // 412: someone else wrote in between. A lost answer: the next cycle's read shows whether it landed.
      classify: (err) =>
        err instanceof ChangeLost
          ? { reason: 'another writer replaced it, writing again' }
          : err instanceof RegistryError && err.status === 412
            ? { reason: 'changed concurrently, re-reading' }
            : putLost && mayHaveApplied(err)
              ? { reason: 'answer lost, re-reading' }
              : undefined,
      onRetry: (e) => ctx.http.transport.log(retryLine(`PUT ${what}`, e)),
      signal: ctx.http.signal,
    },
  )
}
