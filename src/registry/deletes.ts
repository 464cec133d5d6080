import type { DeleteSupport } from '../content/target.js'
import { isFerryError } from '../errors.js'
import { deleteScope, type RepoContext, v2Url } from './context.js'
import { discard } from './http.js'

/**
 * Which deletes a registry allows, learned without writing anything: DELETE of a digest or tag that
 * cannot exist answers 404 where deletes work and 405 UNSUPPORTED where they are switched off
 * (distribution's `storage.delete.enabled: false`); distribution 2.x answers a tag DELETE with 400
 * DIGEST_INVALID, since it deletes by digest only. Probed once per registry and kept by the client.
 */
export async function probeDeletes(ctx: RepoContext): Promise<DeleteSupport> {
  const [manifest, tag] = await Promise.all([
    probeDelete(ctx, `sha256:${'0'.repeat(64)}`),
    probeDelete(ctx, `ferry-probe-${'0'.repeat(16)}`),
  ])
  return { manifest, tag }
}

async function probeDelete(ctx: RepoContext, reference: string): Promise<boolean> {
  // Credentials without the delete action cannot delete either: the operation itself then says DENIED.
  const res = await ctx.http
    .request({
      registry: ctx.registry,
      method: 'DELETE',
      url: v2Url(ctx, `manifests/${reference}`),
      scopes: deleteScope(ctx.repository),
      subject: `${ctx.name}: delete probe`,
      expect: [202, 400, 404, 405],
    })
    .catch((err: unknown) => {
      if (isFerryError(err, 'UNAUTHORIZED') || isFerryError(err, 'DENIED')) return undefined
      throw err
    })
  if (!res) return false
  await discard(res)
  return res.status === 404 || res.status === 202
}
