import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decryptPrivateKey, readPublicKey } from '../../src/sign/index.js'
import { identityToken, startSigstoreStandIn } from '../helpers/sigstore-standin.js'
import { type Backend, startBackend } from './backends.js'
import { PASSWORD, pushTestImage, registryTarget, SPDX, tempDir } from './helpers.js'

// The commands as users run them: the built CLI (`npm run build` first, as `npm test` does).
const BIN = resolve(import.meta.dirname, '../../bin/run.js')
const BUILT = resolve(import.meta.dirname, '../../dist/commands/verify.js')
const execFileAsync = promisify(execFile)

interface Run {
  code: number
  stdout: string
  stderr: string
}

async function ferry(
  args: string[],
  opts: { cwd: string; env?: Record<string, string>; stdin?: string },
): Promise<Run> {
  const env = { ...process.env, FERRY_PASSWORD: undefined, COSIGN_PASSWORD: undefined, ...opts.env }
  try {
    const child = execFileAsync(process.execPath, [BIN, ...args], { cwd: opts.cwd, env, timeout: 60_000 })
    child.child.stdin?.end(opts.stdin ?? '')
    const { stdout, stderr } = await child
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    if (typeof e.code !== 'number') throw err
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

let tmp: Awaited<ReturnType<typeof tempDir>>
let backend: Backend
const withPassword = { FERRY_PASSWORD: PASSWORD }

beforeAll(async () => {
  expect(existsSync(BUILT), 'the CLI is not built: run `npm run build`').toBe(true)
  tmp = await tempDir()
  backend = await startBackend('distribution')
})

afterAll(async () => {
  await backend?.stop()
  await tmp?.remove()
})

// Each run starts a node process; on a busy machine that is seconds, so these tests get more time.
const SLOW = { timeout: 120_000 }

describe('ferry key generate', SLOW, () => {
  it('writes NAME.key (0600) and NAME.pub with FERRY_PASSWORD, and never overwrites without --force', async () => {
    const cwd = tmp.dir
    const first = await ferry(['key', 'generate', '--output-key-prefix', 'release'], {
      cwd,
      env: withPassword,
    })
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toBe('Private key written to release.key\nPublic key written to release.pub\n')
    expect((await stat(join(cwd, 'release.key'))).mode & 0o777).toBe(0o600)
    const pem = await readFile(join(cwd, 'release.key'), 'utf8')
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/)
    const pub = await readFile(join(cwd, 'release.pub'), 'utf8')
    expect(decryptPrivateKey(pem, PASSWORD).asymmetricKeyType).toBe('ec')
    readPublicKey(pub)

    const again = await ferry(['key', 'generate', '--output-key-prefix', 'release'], {
      cwd,
      env: withPassword,
    })
    expect(again.code).toBe(2)
    expect(again.stderr).toBe('ferry: release.key already exists; remove it or pass --force to overwrite\n')
    expect(await readFile(join(cwd, 'release.pub'), 'utf8')).toBe(pub)

    const forced = await ferry(['key', 'generate', '--output-key-prefix', 'release', '--force'], {
      cwd,
      env: { COSIGN_PASSWORD: 'from cosign env' },
    })
    expect(forced.code, forced.stderr).toBe(0)
    expect(await readFile(join(cwd, 'release.pub'), 'utf8')).not.toBe(pub)
    decryptPrivateKey(await readFile(join(cwd, 'release.key'), 'utf8'), 'from cosign env')

    const empty = await ferry(['key', 'generate', '--output-key-prefix', 'empty'], {
      cwd,
      env: { FERRY_PASSWORD: '' },
    })
    expect(empty.code).toBe(2)
    expect(empty.stderr).toMatch(/--allow-empty-password/)
    expect(existsSync(join(cwd, 'empty.key'))).toBe(false)
  })
})

describe('ferry sign, attach, referrers, verify', SLOW, () => {
  it('signs, attaches and signs an SBOM, shows the tree, and verifies with exit codes 0 and 5', async () => {
    const cwd = tmp.dir
    expect(
      (await ferry(['key', 'generate', '--output-key-prefix', 'flow'], { cwd, env: withPassword })).code,
    ).toBe(0)
    const target = registryTarget(backend.host, 'acme/web')
    const image = await pushTestImage(target, 'v1.4.2')
    const unsigned = await pushTestImage(target, 'v1.4.3')
    await target.close()
    const ref = `${backend.host}/acme/web:v1.4.2`
    await writeFile(join(cwd, 'sbom.spdx.json'), SPDX)

    const sign = await ferry(['sign', ref, '--key', 'flow.key', '--format', 'both', '-a', 'release=v1.4.2'], {
      cwd,
      env: withPassword,
    })
    expect(sign.code, sign.stderr).toBe(0)
    expect(sign.stdout).toBe(`${image.digest}\n`)
    expect(sign.stderr).toMatch(
      /^classic: signed sha256:[0-9a-f]{64}, .* now holds 1 signature\nbundle: signed /,
    )

    const attach = await ferry(['attach', 'sbom', ref, '--file', 'sbom.spdx.json', '--format', 'spdx'], {
      cwd,
    })
    expect(attach.code, attach.stderr).toBe(0)
    const sbomRef = attach.stdout.trim()
    expect(sbomRef).toMatch(new RegExp(`^${backend.host}/acme/web@sha256:[0-9a-f]{64}$`))

    const wrongFormat = await ferry(
      ['attach', 'sbom', ref, '--file', 'sbom.spdx.json', '--format', 'cyclonedx'],
      {
        cwd,
      },
    )
    expect(wrongFormat.code).toBe(2)
    expect(wrongFormat.stderr).toBe('ferry: sbom.spdx.json is spdx, not cyclonedx as requested\n')

    const noSbomSig = await ferry(['verify', ref, '--key', 'flow.pub', '--require-sbom'], { cwd })
    expect(noSbomSig.code).toBe(5)
    expect(noSbomSig.stdout).toMatch(/^NOT verified: /)
    expect(noSbomSig.stderr).toMatch(/verification failed: .*none signed with the given key\n$/)

    const signSbom = await ferry(['sign', sbomRef, '--key', 'flow.key'], { cwd, env: withPassword })
    expect(signSbom.code, signSbom.stderr).toBe(0)

    const tree = await ferry(['referrers', ref], { cwd })
    expect(tree.code, tree.stderr).toBe(0)
    const lines = tree.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe(`${backend.host}/acme/web@${image.digest}  (referrers: tag-schema)`)
    expect(lines.filter((l) => l.includes('[tag-schema]'))).toHaveLength(2)
    expect(lines.filter((l) => l.includes('[cosign-tag]'))).toHaveLength(2)
    // The SBOM's own signature hangs under the SBOM.
    const sbomLine = lines.findIndex((l) => l.includes('application/spdx+json'))
    expect(lines[sbomLine + 1]).toMatch(
      /^[│ ] {3}└── sha256:[0-9a-f]{64} {2}application\/vnd\.dev\.cosign\.simplesigning/,
    )

    const verified = await ferry(
      ['verify', ref, '--key', 'flow.pub', '--require-sbom', '-a', 'release=v1.4.2'],
      {
        cwd,
      },
    )
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/^Verified: /)
    expect(verified.stdout).toContain('ok    sbom: 1 of 1 SBOMs signed with the key')

    const failed = await ferry(['verify', `${backend.host}/acme/web:v1.4.3`, '--key', 'flow.pub', '--json'], {
      cwd,
    })
    expect(failed.code).toBe(5)
    const report = JSON.parse(failed.stdout)
    expect(report).toMatchObject({ ok: false, digest: unsigned.digest, signatures: [] })
    expect(report.reason).toBe(
      `no signature found for ${unsigned.digest} (cosign .sig tag or bundle referrer)`,
    )

    const json = await ferry(['referrers', ref, '--json', '--artifact-type', 'application/spdx+json'], {
      cwd,
    })
    expect(JSON.parse(json.stdout).attached).toHaveLength(1)
  })

  it('keeps the password and key material out of every output on a wrong password', async () => {
    const cwd = tmp.dir
    const secret = 'the-real-passphrase-123'
    expect(
      (
        await ferry(['key', 'generate', '--output-key-prefix', 'secret'], {
          cwd,
          env: { FERRY_PASSWORD: secret },
        })
      ).code,
    ).toBe(0)
    const pem = await readFile(join(cwd, 'secret.key'), 'utf8')
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----'))
    const target = registryTarget(backend.host, 'acme/secret')
    await pushTestImage(target, 'v1')
    await target.close()
    const wrong = 'wrong-passphrase-456'
    for (const json of [[], ['--json'], ['--debug']]) {
      const run = await ferry(['sign', `${backend.host}/acme/secret:v1`, '--key', 'secret.key', ...json], {
        cwd,
        env: { FERRY_PASSWORD: wrong },
      })
      expect(run.code).toBe(4)
      const output = run.stdout + run.stderr
      expect(output).toContain('wrong password for key secret.key')
      for (const s of [wrong, secret, ...body]) expect(output).not.toContain(s)
    }
  })

  it('signs keyless with the identity token on standard input, never echoing it', async () => {
    const sigstore = await startSigstoreStandIn()
    try {
      const target = registryTarget(backend.host, 'acme/keyless')
      const image = await pushTestImage(target, 'v1')
      await target.close()
      const token = identityToken('release@example.com', 'https://issuer.example.com')
      const ref = `${backend.host}/acme/keyless:v1`
      const keyless = ['--fulcio-url', sigstore.url, '--rekor-url', sigstore.url, '--identity-token', '-']
      const run = await ferry(['sign', ref, ...keyless, '--json'], { cwd: tmp.dir, stdin: `${token}\n` })
      expect(run.code, run.stderr).toBe(0)
      const result = JSON.parse(run.stdout)
      expect(result).toMatchObject({ digest: image.digest, bundle: { keyless: true } })
      expect(run.stdout + run.stderr).not.toContain(token.split('.')[1])

      const classic = await ferry(['sign', ref, ...keyless, '--format', 'classic'], {
        cwd: tmp.dir,
        stdin: token,
      })
      expect(classic.code).toBe(2)
      expect(classic.stderr).toMatch(/bundle format only/)
      const none = await ferry(['sign', ref], { cwd: tmp.dir })
      expect(none.code).toBe(2)
      expect(none.stderr).toMatch(/pass --key NAME\.key, or --fulcio-url/)
    } finally {
      await sigstore.close()
    }
  })
})
