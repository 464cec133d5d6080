import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { type CliResult, startFerryServe } from '../helpers/cli.js'
import { SOFTHSM_MODULE, startSoftHsm } from '../helpers/softhsm.js'
import { EXE_DIR, EXE_NAME, needExecutable } from './executable.js'

const skopeo = promisify(execFile)

/**
 * `npm run test:exe`: the single executable (`npm run build:exe`) as a site without Node takes it: copied
 * alone into an empty directory and run with nothing in its environment but PATH=/usr/bin:/bin (`env -i`),
 * so no node_modules, no NODE_PATH and no checkout is within its reach.
 */
describe('the single executable', { timeout: 300_000 }, () => {
  let dir: string
  let work: string
  let ferry: string
  let digest: string
  const password = { FERRY_PASSWORD: 'exe-test-pw-4410' }

  /** `env -i PATH=/usr/bin:/bin [VARS] ferry ARGS` in the empty working directory. */
  const run = (args: string[], env: Record<string, string> = {}, exe = ferry): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(exe, args, { cwd: work, env: { PATH: '/usr/bin:/bin', ...env }, stdio: 'pipe' })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d) => {
        stdout += d
      })
      child.stderr.on('data', (d) => {
        stderr += d
      })
      child.on('error', reject)
      child.on('close', (code) => resolve({ code, stdout, stderr }))
      child.stdin.end()
    })

  beforeAll(async () => {
    needExecutable()
    dir = await mkdtemp(join(tmpdir(), 'ferry-exe-'))
    await mkdir(join(dir, 'bin'))
    ferry = join(dir, 'bin', 'ferry')
    await copyFile(join(EXE_DIR, EXE_NAME), ferry)
    await chmod(ferry, 0o755)
    work = join(dir, 'work')
    await mkdir(work)
    // The source layout is made by the library in this process; everything after it is the executable's.
    const source = await openLayoutTarget(join(work, 'source'), { create: true })
    const index = await pushSyntheticIndex(
      source,
      { seed: 'exe-test', layers: 2, layerSize: 8192 },
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      '1.0',
    )
    await source.close()
    digest = index.digest
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('answers --version and version with the version and the commit it was built from', async () => {
    const pkg = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'))
    const long = await run(['--version'])
    expect(long.code, long.stderr).toBe(0)
    expect(long.stdout).toMatch(
      new RegExp(
        `^ferry/${pkg.version.replaceAll('.', '\\.')} linux-\\S+ node-v\\S+ commit [0-9a-f]{12}(-dirty)?\\n$`,
      ),
    )
    expect(long.stderr).toBe('')
    const cmd = await run(['version'])
    expect(cmd.stdout).toBe(long.stdout)
    // Not even /usr/bin on PATH: the executable looks for no node.
    const bare = await run(['--version'], { PATH: join(dir, 'nothing-here') })
    expect(bare.stdout).toBe(long.stdout)
  })

  it('matches its SHA256SUMS line', async () => {
    const sums = await readFile(join(EXE_DIR, 'SHA256SUMS'), 'utf8')
    const hex = createHash('sha256')
      .update(await readFile(ferry))
      .digest('hex')
    expect(sums).toContain(`${hex}  ${EXE_NAME}\n`)
  })

  it('copies between two OCI layouts and reads the copy back by digest', async () => {
    const copied = await run(['copy', 'oci:source:1.0', 'oci:copy:1.0'])
    expect(copied.code, copied.stderr).toBe(0)
    expect(copied.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`@${digest}$`))
    const read = await run(['digest', 'oci:copy:1.0'])
    expect(read.stdout.trim()).toBe(digest)
  })

  it('serves a registry that skopeo pushes into and ferry reads from', async () => {
    const server = await startFerryServe(['--root', join(work, 'served')], {
      exe: ferry,
      cwd: work,
      env: { PATH: '/usr/bin:/bin' },
    })
    try {
      await skopeo('skopeo', [
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${join(work, 'source')}:1.0`,
        `docker://${server.host}/acme/app:1.0`,
      ])
      const read = await run(['digest', `${server.host}/acme/app:1.0`])
      expect(read.code, read.stderr).toBe(0)
      expect(read.stdout.trim()).toBe(digest)
      expect(server.alive()).toBe(true)
    } finally {
      await server.stop()
    }
  })

  it('signs an image with a key it generated and verifies it offline; a tampered key fails (exit 5)', async () => {
    const gen = await run(['key', 'generate', '--output-key-prefix', 'release'], password)
    expect(gen.code, gen.stderr).toBe(0)
    const signed = await run(['sign', 'oci:copy:1.0', '--key', 'release.key'], password)
    expect(signed.code, signed.stderr).toBe(0)
    const verified = await run(['verify', 'oci:copy:1.0', '--key', 'release.pub'])
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(new RegExp(`^Verified: .*copy:1\\.0 \\(${digest}\\)`))
    const other = await run(['key', 'generate', '--output-key-prefix', 'other'], password)
    expect(other.code, other.stderr).toBe(0)
    const wrong = await run(['verify', 'oci:copy:1.0', '--key', 'other.pub'])
    expect(wrong.code).toBe(5)
  })

  it('signs with a PKCS#11 key through pkcs11js.node beside it, and says so when the addon is absent', async () => {
    const hsm = await startSoftHsm({ label: 'exe-hsm' })
    try {
      const uri = hsm.uri('object=exe')
      // Alone, the executable does everything but PKCS#11: one line names the file it needs.
      const alone = await run(['key', 'generate', '--pkcs11', uri, '--output-key-prefix', 'token'], hsm.env)
      expect(alone.code).toBe(1)
      expect(alone.stderr).toMatch(
        /^ferry: PKCS#11 keys need .*pkcs11js\.node must be beside the ferry executable/,
      )

      await copyFile(join(EXE_DIR, 'pkcs11js.node'), join(dir, 'bin', 'pkcs11js.node'))
      const gen = await run(['key', 'generate', '--pkcs11', uri, '--output-key-prefix', 'token'], hsm.env)
      expect(gen.code, gen.stderr).toBe(0)
      const sig = await run(
        ['sign-blob', 'source/index.json', '--key', uri, '--output-signature', 'i.sig'],
        hsm.env,
      )
      expect(sig.code, sig.stderr).toBe(0)
      const ok = await run(['verify-blob', 'source/index.json', '--key', 'token.pub', '--signature', 'i.sig'])
      expect(ok.code, ok.stderr).toBe(0)
      expect(existsSync(SOFTHSM_MODULE)).toBe(true)
    } finally {
      await hsm.remove()
    }
  })
})
