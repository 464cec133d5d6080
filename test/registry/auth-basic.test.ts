import { chmod, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login, logout, RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { tempDockerConfig } from './docker-config.js'

describe('basic auth (htpasswd) and docker credentials', () => {
  let reg: Distribution
  const image = syntheticImage()

  beforeAll(async () => {
    reg = await startDistribution({ htpasswd: `bob:${bcrypt.hashSync('hunter2-bob', 4)}\n` })
  })
  afterAll(async () => reg?.stop())

  const withClient = async <T>(dir: string, fn: (c: RegistryClient) => Promise<T>) => {
    const client = new RegistryClient({ dockerConfigDir: dir })
    try {
      return await fn(client)
    } finally {
      await client.close()
    }
  }

  it('uses credentials from the docker config directory', async () => {
    const cfg = await tempDockerConfig({ [reg.host]: { username: 'bob', password: 'hunter2-bob' } })
    try {
      await withClient(cfg.dir, async (client) => {
        const repo = client.repository({ registry: reg.host, repository: 'team/app' })
        await pushImage(repo, image, 'v1')
        expect((await repo.fetchManifest('v1')).digest).toBe(image.manifest.digest)
      })
    } finally {
      await cfg.remove()
    }
  })

  it('matches an https:// key and username/password fields', async () => {
    const cfg = await tempDockerConfig(
      {},
      { auths: { [`https://${reg.host}`]: { username: 'bob', password: 'hunter2-bob' } } },
    )
    try {
      await withClient(cfg.dir, async (client) => {
        expect(
          (await client.repository({ registry: reg.host, repository: 'team/app' }).resolve('v1')).digest,
        ).toBe(image.manifest.digest)
      })
    } finally {
      await cfg.remove()
    }
  })

  it('rejects a wrong password and no credentials with UNAUTHORIZED', async () => {
    const bad = await tempDockerConfig({ [reg.host]: { username: 'bob', password: 'wrong' } })
    const none = await tempDockerConfig()
    try {
      for (const dir of [bad.dir, none.dir]) {
        await withClient(dir, async (client) => {
          const err = await client
            .repository({ registry: reg.host, repository: 'team/app' })
            .fetchManifest('v1')
            .catch((e: unknown) => e)
          expect(err).toMatchObject({ code: 'UNAUTHORIZED' })
          expect((err as Error).message).toContain(`${reg.host}/team/app:v1`)
          expect((err as Error).message).toContain('HTTP 401')
        })
      }
    } finally {
      await bad.remove()
      await none.remove()
    }
  })

  it('login checks the credentials, then writes config.json (0600, other keys kept); logout removes them', async () => {
    const cfg = await tempDockerConfig(
      {},
      { auths: { 'other.example:5000': { auth: 'eDp5' } }, credHelpers: {}, psFormat: 'x' },
    )
    try {
      await expect(
        withClient(cfg.dir, (c) => login(c, reg.host, 'bob', 'wrong', { dockerConfigDir: cfg.dir })),
      ).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
      })
      expect(JSON.parse(await readFile(join(cfg.dir, 'config.json'), 'utf8')).auths[reg.host]).toBeUndefined()

      await withClient(cfg.dir, (c) => login(c, reg.host, 'bob', 'hunter2-bob', { dockerConfigDir: cfg.dir }))
      const file = join(cfg.dir, 'config.json')
      expect((await stat(file)).mode & 0o777).toBe(0o600)
      const written = JSON.parse(await readFile(file, 'utf8'))
      expect(written.auths[reg.host]).toEqual({ auth: Buffer.from('bob:hunter2-bob').toString('base64') })
      expect(written.auths['other.example:5000']).toEqual({ auth: 'eDp5' })
      expect(written.psFormat).toBe('x')

      await withClient(cfg.dir, async (client) => {
        expect(
          (await client.repository({ registry: reg.host, repository: 'team/app' }).resolve('v1')).digest,
        ).toBe(image.manifest.digest)
      })

      expect(await logout(reg.host, { dockerConfigDir: cfg.dir })).toBe(true)
      const after = JSON.parse(await readFile(file, 'utf8'))
      expect(after.auths[reg.host]).toBeUndefined()
      expect(after.auths['other.example:5000']).toEqual({ auth: 'eDp5' })
      expect(await logout(reg.host, { dockerConfigDir: cfg.dir })).toBe(false)
      await withClient(cfg.dir, async (client) => {
        await expect(
          client.repository({ registry: reg.host, repository: 'team/app' }).resolve('v1'),
        ).rejects.toMatchObject({
          code: 'UNAUTHORIZED',
        })
      })
    } finally {
      await cfg.remove()
    }
  })

  it('stores, reads and erases through a credential helper (credsStore), as docker does', async () => {
    const cfg = await tempDockerConfig({}, { credsStore: 'ferrytest' })
    // A minimal docker-credential helper: one file per server URL in its own directory.
    const helper = join(cfg.dir, 'docker-credential-ferrytest')
    await writeFile(
      helper,
      `#!/bin/sh
store="${cfg.dir}/helper-store"; mkdir -p "$store"
case "$1" in
  store) in=$(cat); key=$(printf %s "$in" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/' | tr '/:' '__'); printf %s "$in" > "$store/$key" ;;
  get) key=$(cat | tr '/:' '__'); if [ -f "$store/$key" ]; then cat "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase) key=$(cat | tr '/:' '__'); if [ -f "$store/$key" ]; then rm "$store/$key"; else echo "credentials not found in native keychain"; exit 1; fi ;;
esac
`,
    )
    await chmod(helper, 0o755)
    const savedPath = process.env.PATH
    process.env.PATH = `${cfg.dir}:${savedPath}`
    try {
      await withClient(cfg.dir, (c) => login(c, reg.host, 'bob', 'hunter2-bob', { dockerConfigDir: cfg.dir }))
      const written = await readFile(join(cfg.dir, 'config.json'), 'utf8')
      expect(written).not.toContain('hunter2-bob')
      expect(written).not.toContain(Buffer.from('bob:hunter2-bob').toString('base64'))
      expect(JSON.parse(written).auths[reg.host]).toEqual({})
      await withClient(cfg.dir, async (client) => {
        expect(
          (await client.repository({ registry: reg.host, repository: 'team/app' }).resolve('v1')).digest,
        ).toBe(image.manifest.digest)
      })
      expect(await logout(reg.host, { dockerConfigDir: cfg.dir })).toBe(true)
      await withClient(cfg.dir, async (client) => {
        await expect(
          client.repository({ registry: reg.host, repository: 'team/app' }).resolve('v1'),
        ).rejects.toMatchObject({
          code: 'UNAUTHORIZED',
        })
      })
    } finally {
      process.env.PATH = savedPath
      await cfg.remove()
    }
  })

  it('reports a missing credential helper as CREDENTIALS', async () => {
    const cfg = await tempDockerConfig({}, { credHelpers: { [reg.host]: 'ferry-no-such-helper' } })
    try {
      await withClient(cfg.dir, async (client) => {
        await expect(
          client.repository({ registry: reg.host, repository: 'team/app' }).resolve('v1'),
        ).rejects.toMatchObject({
          code: 'CREDENTIALS',
          message: expect.stringContaining('docker-credential-ferry-no-such-helper'),
        })
      })
    } finally {
      await cfg.remove()
    }
  })
})
