import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/log.js'
import { CacheState, STATE_FILE } from '../../../src/serve/upstream/cache-state.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

const [index, child, poison, layer] = ['i', 'c', 'p', 'l'].map((c) => `sha256:${c.repeat(64)}`) as [
  string,
  string,
  string,
  string,
]

describe('the pull-through cache record', () => {
  it('takes a blob’s size only from the manifests of the repository asked through, and their children', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cache-state-'))
    dirs.push(dir)
    const state = await CacheState.open(dir, silentLogger)
    state.setManifest(poison, { mediaType: 'm', blobs: { [layer]: 10 }, manifests: [] }, 'up/attacker')
    state.setManifest(index, { mediaType: 'i', blobs: {}, manifests: [child] }, 'up/victim')
    // The child was cached through yet another repository; the victim's index names it.
    state.setManifest(child, { mediaType: 'm', blobs: { [layer]: 1200 }, manifests: [] }, 'up/elsewhere')
    expect(state.blobSize(layer, 'up/victim')).toBe(1200)
    expect(state.blobSize(layer, 'up/attacker')).toBe(10)
    expect(state.blobSize(layer, 'up/nobody')).toBeUndefined()
    expect(state.holds('up/victim', child)).toBe(true)
    expect(state.holds('up/victim', poison)).toBe(false)
    state.confirm(poison, 'up/victim2')
    expect(state.blobSize(layer, 'up/victim2')).toBe(10)
  })

  it('gives records written before they named their repositories those of the tags that map to them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-cache-state-'))
    dirs.push(dir)
    const old = {
      version: 1,
      tags: { '127.0.0.1:5000/team/app:1.0': { digest: child, mediaType: 'm', size: 300, checkedAt: 1 } },
      manifests: {
        [poison]: { mediaType: 'm', blobs: { [layer]: 10 }, manifests: [] },
        [child]: { mediaType: 'm', blobs: { [layer]: 1200 }, manifests: [] },
      },
      pulled: {},
    }
    await writeFile(join(dir, STATE_FILE), JSON.stringify(old))
    const state = await CacheState.open(dir, silentLogger)
    expect(state.manifest(child)?.repositories).toEqual(['127.0.0.1:5000/team/app'])
    expect(state.manifest(poison)?.repositories).toEqual([])
    expect(state.blobSize(layer, '127.0.0.1:5000/team/app')).toBe(1200)
    await state.close()
  })
})
