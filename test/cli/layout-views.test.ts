import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

// A signed image through a bundle into a layout, then named from the CLI as a repository view. Each
// step starts a node process; on a busy machine that is seconds, so these tests get more time.
describe(
  'oci:DIR:REPO:TAG and oci:DIR:REPO@DIGEST name a repository view (built CLI)',
  { timeout: 180_000 },
  () => {
    let dir: string
    let reg: Distribution
    let image: Manifest
    const env = { FERRY_PASSWORD: 'layout-views' }

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ferry-views-'))
      const src = join(dir, 'src')
      const target = await openLayoutTarget(src, { create: true })
      image = await pushSyntheticImage(target, { seed: 'views', layers: 1, layerSize: 3000 }, '1.0')
      await target.close()
      reg = await startDistribution()
      const pushed = await ferry(['copy', `oci:${src}:1.0`, `${reg.host}/acme/web:1.0`])
      expect(pushed.code, pushed.stderr).toBe(0)
    })
    afterAll(async () => {
      await reg?.stop()
      await rm(dir, { recursive: true, force: true })
    })

    it('verifies an image imported by bundle import --to oci:DIR, by tag and by the pinned reference it prints', async () => {
      const keys = join(dir, 'release')
      expect((await ferry(['key', 'generate', '--output-key-prefix', keys], { env })).code).toBe(0)
      const signed = await ferry(['sign', `${reg.host}/acme/web:1.0`, '--key', `${keys}.key`], { env })
      expect(signed.code, signed.stderr).toBe(0)
      const bundle = join(dir, 'web.tar')
      const created = await ferry(['bundle', 'create', '--image', `${reg.host}/acme/web:1.0`, '-o', bundle])
      expect(created.code, created.stderr).toBe(0)

      const site = join(dir, 'site')
      const imported = await ferry(['bundle', 'import', bundle, '--to', `oci:${site}`, '--json'])
      expect(imported.code, imported.stderr).toBe(0)
      const [entry] = JSON.parse(imported.stdout).images as { destination: string; pinned: string }[]
      expect(entry!.destination).toBe(`oci:${site}:acme/web:1.0`)
      expect(entry!.pinned).toBe(`oci:${site}:acme/web@${image.digest}`)

      for (const ref of [entry!.destination, entry!.pinned]) {
        const verified = await ferry(['verify', ref, '--key', `${keys}.pub`, '--json'])
        expect(verified.code, `${ref}: ${verified.stdout}${verified.stderr}`).toBe(0)
        const report = JSON.parse(verified.stdout)
        expect(report.digest).toBe(image.digest)
        expect(report.signatures.map((s: { ok: boolean }) => s.ok)).toEqual([true])
        const digest = await ferry(['digest', ref])
        expect(digest.stdout).toBe(`${image.digest}\n`)
      }

      // The no-repository view of the same layout holds no signature: the view is what the name selects.
      const bare = await ferry(['verify', `oci:${site}@${image.digest}`, '--key', `${keys}.pub`, '--json'])
      expect(bare.code).toBe(5)
      expect(JSON.parse(bare.stdout).signatures).toEqual([])
    })

    it('copies into a view and back out: oci:DIR:REPO:TAG writes ref.name REPO:TAG with its referrers in REPO', async () => {
      const views = join(dir, 'views')
      const keys = join(dir, 'copy')
      expect((await ferry(['key', 'generate', '--output-key-prefix', keys], { env })).code).toBe(0)
      const signed = await ferry(['sign', `${reg.host}/acme/web:1.0`, '--key', `${keys}.key`], { env })
      expect(signed.code, signed.stderr).toBe(0)
      const copied = await ferry([
        'copy',
        '--referrers',
        `${reg.host}/acme/web:1.0`,
        `oci:${views}:team/web:2.0`,
      ])
      expect(copied.code, copied.stderr).toBe(0)
      expect(copied.stdout).toBe(`oci:${views}:team/web:2.0@${image.digest}\n`)

      const layout = await openLayoutTarget(views, { repository: 'team/web' })
      expect(await layout.listTags()).toEqual(['2.0', `sha256-${image.digest.slice(7)}.sig`])
      await layout.close()
      const tags = await ferry(['tags', `oci:${views}`, '--json'])
      expect(JSON.parse(tags.stdout).tags).toEqual([])

      // Out again: the destination takes the view's tag, 2.0, not the ref.name.
      const back = await ferry(['copy', `oci:${views}:team/web:2.0`, `${reg.host}/acme/back`])
      expect(back.code, back.stderr).toBe(0)
      expect(back.stdout).toBe(`${reg.host}/acme/back:2.0@${image.digest}\n`)
    })
  },
)
