import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OciLayout } from '../../src/layout/index.js'
import { recordAttempt } from '../../src/ledger/index.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { raw } from './helpers.js'

/**
 * The UI's drift page: `ferry audit` of one repository against the ledger, read from serve's own store.
 * The ledger says v1 was written as one image; the store's v1 names another (moved while the registry
 * ran without --ledger, or by hand in its files), and v2's record names an image whose tag went away.
 */
describe('serve UI drift page', { timeout: 60_000 }, () => {
  let dir: string
  let server: RunningServer
  let plain: RunningServer
  let a: string
  let b: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-ui-audit-'))
    const root = join(dir, 'root')
    const layout = await OciLayout.open(root, { create: true })
    a = (await pushSyntheticImage(layout.target('acme/web'), { seed: 'a', layers: 1, layerSize: 64 }, 'v1'))
      .digest
    b = (await pushSyntheticImage(layout.target('acme/web'), { seed: 'b', layers: 1, layerSize: 64 }, 'v0'))
      .digest
    const ledger = join(dir, 'ledger.jsonl')
    for (const [tag, digest] of [
      ['v1', b],
      ['v2', a],
    ] as const) {
      await recordAttempt(
        { ledger, actor: 'release-bot' },
        {
          operation: 'promote',
          source: 'registry.ci/acme/web',
          destination: `registry.intra/acme/web:${tag}`,
          digest,
          environment: null,
          verdict: 'promoted',
        },
      )
    }
    server = await startServer({ root, port: 0, ui: true, ledger, names: ['registry.intra'] })
    plain = await startServer({ root, port: 0, ui: true })
  })
  afterAll(async () => {
    await server?.close()
    await plain?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('lists the tag that moved and the tag that went away, with both digests, and links from the tags page', async () => {
    const tags = (await raw(server, 'GET', '/ui/repo/acme/web')).body.toString()
    expect(tags).toContain('<a id="drift-link" href="/ui/audit/acme/web">')
    const res = await raw(server, 'GET', '/ui/audit/acme/web')
    expect(res.status).toBe(200)
    const body = res.body.toString()
    expect(body).toContain('2 findings')
    expect(body.match(/<tr data-kind="(\w+)">/g)).toEqual(['<tr data-kind="moved">', '<tr data-kind="gone">'])
    const moved = body.slice(body.indexOf('data-kind="moved"'), body.indexOf('data-kind="gone"'))
    expect(moved).toContain(a)
    expect(moved).toContain(b)
    expect(moved).toContain('ledger.jsonl:1')
  })

  it('says there is nothing to compare with without --ledger or --policy, and offers no link', async () => {
    const tags = (await raw(plain, 'GET', '/ui/repo/acme/web')).body.toString()
    expect(tags).not.toContain('drift-link')
    const body = (await raw(plain, 'GET', '/ui/audit/acme/web')).body.toString()
    expect(body).toContain('Nothing to compare with')
    expect((await raw(plain, 'GET', '/ui/audit/acme/nothing')).status).toBe(404)
  })
})
