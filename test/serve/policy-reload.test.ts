import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { selfSignedCert } from '../helpers/self-signed.js'
import { LABELS, push, SourceImages, stateOf } from './policy-helpers.js'

const LOOSE = `version: 1
environments:
  - name: prod
    match: { repositories: ["**/*-prod"] }
    immutable: true
`

const TIGHT = `${LOOSE}    forbid: { tags: [latest] }
`

/** Waits until the server's output matches `re` (a SIGHUP is handled asynchronously). */
async function said(served: ServeProcess, re: RegExp): Promise<void> {
  for (let i = 0; i < 100 && !re.test(served.output()); i++) await new Promise((r) => setTimeout(r, 50))
  expect(served.output()).toMatch(re)
}

describe(
  'serve --policy: SIGHUP, the names it goes by, and the other serve flags',
  { timeout: 120_000 },
  () => {
    let dir: string
    let src: SourceImages
    let served: ServeProcess | undefined

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ferry-serve-reload-'))
      src = await SourceImages.create(join(dir, 'src'))
    })
    afterEach(async () => {
      await served?.stop()
      served = undefined
    })
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true })
    })

    it('SIGHUP applies a tightened rule to the next push; an invalid file keeps the previous policy', async () => {
      const file = join(dir, 'reload.policy.yaml')
      await writeFile(file, LOOSE)
      const root = join(dir, 'reload-root')
      served = await startFerryServe(['--root', root, '--policy', file])
      const host = served.host
      const first = await src.image('first', { ...LABELS, build: 'first' })
      const second = await src.image('second', { ...LABELS, build: 'second' })
      expect((await push(first.ref, `${host}/acme/web-prod:latest`)).code).toBe(0)

      await writeFile(file, TIGHT)
      served.signal('SIGHUP')
      await said(served, /SIGHUP: policy .*reload\.policy\.yaml reloaded \(1 environments\)/)
      const refused = await push(second.ref, `${host}/acme/api-prod:latest`)
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toMatch(/denied: acme\/api-prod:latest: tags\.forbid \(environment prod\)/)
      expect((await stateOf(root, 'acme/api-prod')).tags).toEqual({})

      // A typo: the file does not load, one line says why, and the tightened policy stays in force.
      await writeFile(file, `${TIGHT}    immutabel: true\n`)
      served.signal('SIGHUP')
      await said(
        served,
        /policy .*reload\.policy\.yaml not reloaded, the previous policy stays in force: .*immutabel/,
      )
      const line = served
        .output()
        .split('\n')
        .find((l) => l.includes('not reloaded'))
      expect(line).toMatch(/reload\.policy\.yaml:\d+:\d+: /)
      const still = await push(second.ref, `${host}/acme/api-prod:latest`)
      expect(still.stderr).toMatch(/tags\.forbid \(environment prod\)/)
      expect((await push(second.ref, `${host}/acme/api-prod:v1`)).code).toBe(0)
      expect(served.alive()).toBe(true)
    })

    it('without --name, the globs are matched with the listen address and localhost:PORT', async () => {
      const file = join(dir, 'names.policy.yaml')
      await writeFile(
        file,
        `version: 1
environments:
  - name: prod
    match: { repositories: ["localhost:*/acme/*-prod"] }
    forbid: { tags: [latest] }
`,
      )
      const root = join(dir, 'names-root')
      served = await startFerryServe(['--root', root, '--policy', file])
      await said(
        served,
        new RegExp(
          `policy .*names\\.policy\\.yaml enforced for ${served.host}, localhost:${served.host.split(':')[1]}`,
        ),
      )
      const img = await src.image('names', { ...LABELS, build: 'names' })
      // Pushed to 127.0.0.1:PORT, judged as localhost:PORT too: a rule holds whichever name is used.
      const r = await push(img.ref, `${served.host}/acme/web-prod:latest`)
      expect(r.stderr).toMatch(/denied: acme\/web-prod:latest: tags\.forbid \(environment prod\)/)
      expect((await stateOf(root, 'acme/web-prod')).tags).toEqual({})
    })

    it('--read-only wins: writes answer 405 as without a policy', async () => {
      const file = join(dir, 'ro.policy.yaml')
      await writeFile(file, LOOSE)
      const root = join(dir, 'ro-root')
      await openLayoutTarget(root, { create: true })
      served = await startFerryServe(['--root', root, '--read-only', '--policy', file])
      const img = await src.image('ro', { ...LABELS, build: 'ro' })
      const res = await fetch(`http://${served.host}/v2/acme/web-prod/manifests/v1`, {
        method: 'PUT',
        headers: { 'Content-Type': img.manifest.mediaType },
        body: Buffer.from(img.manifest.bytes),
      })
      expect(res.status).toBe(405)
    })

    it('with --htpasswd and --tls-cert: an authenticated client over TLS is refused with 403 DENIED', async () => {
      const file = join(dir, 'tls.policy.yaml')
      await writeFile(file, TIGHT)
      const { certFile, keyFile } = selfSignedCert(dir, { cn: '127.0.0.1', ip: '127.0.0.1' })
      const htpasswd = join(dir, 'htpasswd')
      await writeFile(htpasswd, `ci:${bcrypt.hashSync('s3cret-pass', 4)}\n`)
      const root = join(dir, 'tls-root')
      served = await startFerryServe([
        '--root',
        root,
        '--tls-cert',
        certFile,
        '--tls-key',
        keyFile,
        '--htpasswd',
        htpasswd,
        '--policy',
        file,
      ])
      const img = await src.image('tls', { ...LABELS, build: 'tls' })
      const creds = ['--dest-creds', 'ci:s3cret-pass']
      const r = await push(img.ref, `${served.host}/acme/web-prod:latest`, ...creds)
      expect(r.code).not.toBe(0)
      expect(r.stderr).toMatch(/denied: acme\/web-prod:latest: tags\.forbid \(environment prod\)/)
      expect((await push(img.ref, `${served.host}/acme/web-prod:v1`, ...creds)).code).toBe(0)
      expect((await stateOf(root, 'acme/web-prod')).tags).toEqual({ v1: img.manifest.digest })
    })
  },
)
