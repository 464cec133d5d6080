import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OciLayout } from '../../../src/layout/index.js'
import { REF_NAME_ANNOTATION } from '../../../src/layout/naming.js'
import type { ServeContext } from '../../../src/serve/context.js'
import { Membership } from '../../../src/serve/reachable.js'
import { layoutStore } from '../../../src/serve/store.js'
import { tagsPage } from '../../../src/serve/ui/pages/tags.js'
import { PAGE_SIZE } from '../../../src/serve/ui/paging.js'
import { pushSyntheticImage } from '../../../src/synthetic.js'
import { CallLog, tracking } from '../../helpers/tracking-target.js'

const TAGS = 10_000

/**
 * A tags page of a repository with 10,000 tags reads the manifests of its own rows only: the store is
 * the server's own over an OCI layout in a temp directory, its targets wrapped to count every read.
 */
describe('UI paging', () => {
  let dir: string
  let ctx: ServeContext
  const calls = new CallLog()

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-ui-paging-'))
    const layout = await OciLayout.open(join(dir, 'root'), { create: true })
    const image = await pushSyntheticImage(
      layout.target('big/app'),
      { seed: 'paging', layers: 1, layerSize: 100 },
      't00000',
    )
    const desc = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.byteLength }
    await layout.updateIndex((index) => ({
      ...index,
      manifests: Array.from({ length: TAGS }, (_, i) => ({
        ...desc,
        annotations: { [REF_NAME_ANNOTATION]: `big/app:t${String(i).padStart(5, '0')}` },
      })),
    }))
    const store = layoutStore(layout)
    const counted = { ...store, target: (name: string) => tracking(store.target(name), calls).target }
    // Only what tagsPage reads without --policy or --upstream.
    ctx = { store: counted, members: new Membership(counted) } as unknown as ServeContext
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads the manifests of one page of tags, not of all 10,000', async () => {
    calls.reset()
    const page = await tagsPage(
      ctx,
      { registry: 'r.example', mirror: false },
      'big/app',
      new URLSearchParams(),
    )
    expect(page.text.match(/<tr data-tag=/g)).toHaveLength(PAGE_SIZE)
    expect(page.text).toContain(`1–${PAGE_SIZE} of ${TAGS} tags`)
    const reads = calls.count('fetchManifest')
    expect(reads).toBeGreaterThanOrEqual(PAGE_SIZE)
    expect(reads).toBeLessThanOrEqual(2 * PAGE_SIZE)
  })
})
