import { isFerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import { pullScope, pushScope, type RepoContext, v2Url } from './context.js'
import { discard } from './http.js'
import { mergeScopes } from './token-cache.js'
import { header, type RawResponse } from './transport.js'
import { cancelUpload } from './upload.js'

/**
 * Cross-repository mount (`POST ?mount=&from=`). 201: linked, nothing to upload. 202: the registry
 * opened an ordinary upload instead (it cannot or will not mount); that session is cancelled and the
 * caller pushes the bytes.
 */
export async function mountBlob(
  ctx: RepoContext,
  desc: Descriptor,
  fromRepository: string,
): Promise<boolean> {
  const what = `${ctx.name}@${desc.digest}`
  const url = v2Url(ctx, 'blobs/uploads/')
  url.searchParams.set('mount', desc.digest)
  url.searchParams.set('from', fromRepository)
  let res: RawResponse
  try {
    res = await ctx.http.request({
      registry: ctx.registry,
      method: 'POST',
      url,
      scopes: mergeScopes(pushScope(ctx.repository), pullScope(fromRepository)),
      subject: what,
      expect: [201, 202],
      idempotent: true,
    })
  } catch (err) {
    // No pull right on the source, or it is gone: an upload is still possible, and the caller does it.
    if (isFerryError(err, 'UNAUTHORIZED') || isFerryError(err, 'DENIED') || isFerryError(err, 'NOT_FOUND')) {
      ctx.http.transport.log(`mount ${what} from ${fromRepository} refused (${err.code}), will upload`)
      return false
    }
    throw err
  }
  await discard(res)
  if (res.status === 201) return true
  const session = header(res, 'location')
  if (session) await cancelUpload(ctx, new URL(session, res.url), what)
  return false
}
