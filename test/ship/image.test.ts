import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { needExecutable } from './executable.js'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '..', '..')
const IMAGE_DIR = join(ROOT, 'dist', 'image')
const SOURCE = 'https://git.intra/platform/ferry'

/** Every file of a directory tree with its sha256, sorted: equal for equal trees. */
async function treeDigest(dir: string): Promise<string> {
  const hash = createHash('sha256')
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else
        hash.update(
          `${relative(dir, p)} ${createHash('sha256')
            .update(await readFile(p))
            .digest('hex')}\n`,
        )
    }
  }
  await walk(dir)
  return hash.digest('hex')
}

/**
 * `npm run test:image`: ferry's own image (`npm run build:image`, from the executable build:exe made) built
 * twice to the same bytes, unpacked by umoci and run in a chroot of its root file system as its non-root
 * user, read by skopeo, and checked by ferry: signature, SBOM, and the governance example's policy.
 */
describe('ferry’s own image', { timeout: 600_000 }, () => {
  let dir: string
  let version: string
  let digest: string
  const env = { FERRY_PASSWORD: 'image-test-pw-2207' }
  const buildImage = () =>
    run(
      process.execPath,
      [join(ROOT, 'scripts', 'build-image.js'), '--key', join(dir, 'release.key'), '--source', SOURCE],
      {
        env: { ...process.env, ...env },
        maxBuffer: 16 * 1024 * 1024,
      },
    )

  beforeAll(async () => {
    needExecutable()
    dir = await mkdtemp(join(tmpdir(), 'ferry-image-'))
    version = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version
    const gen = await ferry(['key', 'generate', '--output-key-prefix', join(dir, 'release')], { env })
    expect(gen.code, gen.stderr).toBe(0)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('builds to the same bytes twice: image, signatures and SBOM', async () => {
    const first = await buildImage()
    const firstTree = await treeDigest(IMAGE_DIR)
    const second = await buildImage()
    expect(second.stdout).toBe(first.stdout)
    expect(await treeDigest(IMAGE_DIR)).toBe(firstTree)
    digest = /@(sha256:[0-9a-f]{64})\n/.exec(first.stdout)![1]!
  })

  it('is read by skopeo: non-root user, entrypoint ferry, the OCI labels', async () => {
    const { stdout } = await run('skopeo', ['inspect', '--config', `oci:${IMAGE_DIR}:${version}`])
    const config = JSON.parse(stdout)
    expect(config.config.User).toBe('65532:65532')
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/ferry'])
    expect(Object.keys(config.config.Labels)).toEqual(
      expect.arrayContaining([
        'org.opencontainers.image.source',
        'org.opencontainers.image.revision',
        'org.opencontainers.image.created',
      ]),
    )
    expect(config.config.Labels['org.opencontainers.image.source']).toBe(SOURCE)
    const { stdout: raw } = await run('skopeo', ['inspect', '--raw', `oci:${IMAGE_DIR}:${version}`])
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digest)
  })

  it('runs from its unpacked root file system, as its own user, with nothing of the host', async () => {
    const bundle = join(dir, 'bundle')
    await run('umoci', ['unpack', '--image', `${IMAGE_DIR}:${version}`, bundle])
    const rootfs = join(bundle, 'rootfs')
    const spec = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'))
    expect(spec.process.user).toMatchObject({ uid: 65532, gid: 65532 })
    expect(spec.process.args).toEqual(['/usr/local/bin/ferry', '--help'])
    expect(await readFile(join(rootfs, 'etc', 'passwd'), 'utf8')).toContain('ferry:x:65532:65532:')

    const chroot = (...args: string[]) =>
      run('/usr/sbin/chroot', ['--userspec=65532:65532', rootfs, '/usr/local/bin/ferry', ...args], {
        env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/ferry' },
      })
    const v = await chroot('--version')
    expect(v.stdout).toMatch(
      new RegExp(`^ferry/${version.replaceAll('.', '\\.')} linux-\\S+ node-v\\S+ commit [0-9a-f]{12}`),
    )

    // A layout made here, copied by the ferry inside the image from one directory of its /tmp to another.
    await mkdir(join(rootfs, 'tmp', 'src'))
    const source = await openLayoutTarget(join(rootfs, 'tmp', 'src'), { create: true })
    const image = await pushSyntheticImage(
      source,
      { seed: 'image-chroot', layers: 1, layerSize: 4096 },
      '1.0',
    )
    await source.close()
    await run('chown', ['-R', '65532:65532', join(rootfs, 'tmp', 'src')])
    const copied = await chroot('copy', 'oci:/tmp/src:1.0', 'oci:/tmp/dst:1.0')
    expect(copied.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`@${image.digest}$`))
    expect((await chroot('digest', 'oci:/tmp/dst:1.0')).stdout.trim()).toBe(image.digest)
  })

  it('verifies offline: its signature and its SPDX SBOM of the npm packages, signed with the same key', async () => {
    const r = await ferry([
      'verify',
      `oci:${IMAGE_DIR}:${version}`,
      '--key',
      join(dir, 'release.pub'),
      '--require-sbom',
      '--json',
    ])
    expect(r.code, r.stderr + r.stdout).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.digest).toBe(digest)
    expect(report.sboms).toEqual([expect.objectContaining({ format: 'spdx', signed: true })])

    const layoutIndex = JSON.parse(await readFile(join(IMAGE_DIR, 'index.json'), 'utf8'))
    const referrer = layoutIndex.manifests.find(
      (m: { artifactType?: string }) => m.artifactType === 'application/spdx+json',
    )
    const blob = (d: string) =>
      readFile(join(IMAGE_DIR, 'blobs', 'sha256', d.slice('sha256:'.length)), 'utf8')
    const sbom = JSON.parse(await blob(JSON.parse(await blob(referrer.digest)).layers[0].digest))
    const names = sbom.packages.map((p: { name: string }) => p.name)
    // What the executable carries (dependencies), not what builds or tests it (devDependencies).
    expect(names).toEqual(expect.arrayContaining(['ferry', 'node', 'undici', '@oclif/core', 'pkcs11js']))
    expect(names).not.toContain('vitest')
    expect(names).not.toContain('esbuild')
  })

  it('passes the governance example’s policy where it is published, also as a prod release', async () => {
    // The example names its key release.pub beside the policy file: the one this image was signed with.
    await copyFile(join(ROOT, 'examples', 'governance', 'ferry.policy.yaml'), join(dir, 'ferry.policy.yaml'))
    const site = join(dir, 'site')
    for (const dest of [
      `oci:${site}:platform/tools/ferry:${version}`,
      `oci:${site}:platform/tools/ferry-prod:v${version}`,
    ]) {
      const copied = await ferry(['copy', `oci:${IMAGE_DIR}:${version}`, dest, '--referrers'])
      expect(copied.code, copied.stderr).toBe(0)
      const checked = await ferry(['policy', 'check', dest, '--policy', join(dir, 'ferry.policy.yaml')])
      expect(checked.code, `${dest}\n${checked.stdout}${checked.stderr}`).toBe(0)
      expect(checked.stdout).toMatch(/\d+ passed, 0 failed/)
    }
  })
})
