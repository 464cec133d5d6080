import { execFileSync } from 'node:child_process'
import {
  chmod,
  chown,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { tempDir } from '../supply/helpers.js'

const compose = (image: string) => `services:\n  db:\n    image: ${image}\n`
const isRoot = process.getuid?.() === 0

/** Every file below `dir` (links as `-> target`), relative, sorted: what a tree holds. */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (at: string) => {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const path = join(at, e.name)
      if (e.isDirectory()) await walk(path)
      else
        out.push(
          e.isSymbolicLink() ? `${relative(dir, path)} -> ${await readlink(path)}` : relative(dir, path),
        )
    }
  }
  await walk(dir)
  return out.sort()
}

/**
 * What `ferry pin` does to the files themselves (the hostile-input sweep of December 2026: M6, M7, L2, L6,
 * L7, L8): modes and owners, symbolic links, a write that fails half way, anchors shared with values that
 * are not images, and --out writing the whole tree. Images resolve on a real distribution registry;
 * --allow-unverified, since signatures are not the subject here.
 */
describe('ferry pin: the files it reads and writes', () => {
  let registry: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const digests: Record<string, string> = {}
  const pinnedRef = (name: string, tag: string) =>
    `${registry.host}/cache/library/${name}:${tag}@${digests[name]}`
  const pin = (args: string[]) =>
    ferry(['pin', ...args, '--registry', `${registry.host}/cache`, '--allow-unverified'])

  /** Writes `files` (path → text) under a new directory of the temp dir. */
  async function tree(name: string, files: Record<string, string | Uint8Array>): Promise<string> {
    const root = join(tmp.dir, name)
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true })
      await writeFile(join(root, path), text)
    }
    await mkdir(root, { recursive: true })
    return root
  }

  beforeAll(async () => {
    ;[registry, tmp] = await Promise.all([startDistribution(), tempDir('ferry-pin-files-')])
    const client = new RegistryClient({})
    try {
      for (const [name, tag] of [
        ['postgres', '16'],
        ['redis', '7'],
      ] as const) {
        const target = client.repository({ registry: registry.host, repository: `cache/library/${name}` })
        const m = await pushSyntheticImage(target, { seed: name, layers: 1, layerSize: 512 }, tag)
        digests[name] = m.digest
      }
    } finally {
      await client.close()
    }
  }, 60_000)

  afterAll(async () => {
    await registry?.stop()
    await tmp?.remove()
  })

  describe('modes and owners (M6)', () => {
    it('--in-place keeps each file’s mode, owner and group: a 0600 file stays 0600', async () => {
      const dir = await tree('modes', {
        'secret/values.yaml': 'image:\n  repository: postgres\n  tag: "16"\n',
        'compose.yaml': compose('redis:7'),
      })
      const values = join(dir, 'secret', 'values.yaml')
      const file = join(dir, 'compose.yaml')
      await chmod(values, 0o600)
      await chmod(file, 0o640)
      // Root may give a file back any owner, so the test picks ones that are not the process's own;
      // another user can only keep its own (and the check still holds).
      const owner = isRoot ? { uid: 4321, gid: 8765 } : { uid: process.getuid!(), gid: process.getgid!() }
      await chown(file, owner.uid, owner.gid)
      const run = await pin([dir, '--in-place'])
      expect(run.code, run.stderr).toBe(0)
      expect(await readFile(values, 'utf8')).toContain(`tag: "16@${digests.postgres}"`)
      expect(await readFile(file, 'utf8')).toBe(compose(pinnedRef('redis', '7')))
      expect((await stat(values)).mode & 0o7777).toBe(0o600)
      const after = await stat(file)
      expect(after.mode & 0o7777).toBe(0o640)
      expect([after.uid, after.gid]).toEqual([owner.uid, owner.gid])
    })
  })

  describe('symbolic links (M7, L8)', () => {
    it('follows links to files inside the tree: --check sees them, --in-place writes the target once', async () => {
      // The target's name is not *.yaml: only the links make it a deployment file.
      const dir = await tree('links-in', { 'shared/db.compose': compose('postgres:16') })
      await mkdir(join(dir, 'app'))
      await mkdir(join(dir, 'app2'))
      await symlink('../shared/db.compose', join(dir, 'app', 'compose.yaml'))
      await symlink(join(dir, 'shared', 'db.compose'), join(dir, 'app2', 'compose.yaml'))
      const check = await pin([dir, '--check'])
      expect(check.code, check.stderr).toBe(1)
      expect(check.stdout.trim().split('\n')).toEqual([
        `unpinned  ${join(dir, 'app', 'compose.yaml')}:3  postgres:16    not under ${registry.host}/cache`,
      ])

      const out = join(tmp.dir, 'links-in-out')
      const copy = await pin([dir, '--out', out])
      expect(copy.code, copy.stderr).toBe(0)
      // Under --out each link is the file a reader of the tree sees, pinned.
      for (const name of ['app', 'app2']) {
        expect((await lstat(join(out, name, 'compose.yaml'))).isFile()).toBe(true)
        expect(await readFile(join(out, name, 'compose.yaml'), 'utf8')).toBe(
          compose(pinnedRef('postgres', '16')),
        )
      }

      const run = await pin([dir, '--in-place', '--json'])
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout).written).toEqual([
        join(dir, 'shared', 'db.compose'),
        join(dir, 'ferry.lock.json'),
      ])
      expect(await readFile(join(dir, 'shared', 'db.compose'), 'utf8')).toBe(
        compose(pinnedRef('postgres', '16')),
      )
      expect(await listTree(dir)).toEqual([
        'app/compose.yaml -> ../shared/db.compose',
        `app2/compose.yaml -> ${join(dir, 'shared', 'db.compose')}`,
        'ferry.lock.json',
        'shared/db.compose',
      ])
    })

    it('follows directory links inside the tree, and stops at a loop', async () => {
      const dir = await tree('links-dirs', { 'releases/v2/compose.yaml': compose('redis:7') })
      await symlink('releases/v2', join(dir, 'current'))
      await symlink('../..', join(dir, 'releases', 'v2', 'loop'))
      const out = join(tmp.dir, 'links-dirs-out')
      const run = await ferry(
        ['pin', dir, '--registry', `${registry.host}/cache`, '--allow-unverified', '--out', out],
        { killAfterMs: 20_000 },
      )
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toContain(
        `ferry: ignored ${join(dir, 'releases', 'v2', 'loop')} → ${dir}: a symbolic link to a directory above it (a loop)\n`,
      )
      expect(await listTree(out)).toEqual([
        'current/compose.yaml',
        'ferry.lock.json',
        'releases/v2/compose.yaml',
      ])
      expect(await readFile(join(out, 'current', 'compose.yaml'), 'utf8')).toBe(
        compose(pinnedRef('redis', '7')),
      )
    })

    it('refuses links out of the tree: --check fails naming them, a write warns and leaves them', async () => {
      const root = await tree('links-out', {
        'shared/compose.yaml': compose('postgres:16'),
        'shared/more/compose.yaml': compose('redis:7'),
      })
      const deploy = join(root, 'deploy')
      await mkdir(deploy)
      await symlink('../shared/compose.yaml', join(deploy, 'compose.yaml'))
      await symlink(join(root, 'shared', 'more'), join(deploy, 'more'))
      const check = await pin([deploy, '--check'])
      expect(check.code).toBe(1)
      expect(check.stderr).toBe(
        [
          `ferry: not checked ${join(deploy, 'compose.yaml')} → ${join(root, 'shared', 'compose.yaml')}: a symbolic link out of ${deploy}`,
          `ferry: not checked ${join(deploy, 'more')} → ${join(root, 'shared', 'more')}: a symbolic link out of ${deploy}`,
          'ferry: not checked: 2 symbolic links out of the directory walked',
          '',
        ].join('\n'),
      )
      const run = await pin([deploy, '--in-place'])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toContain(
        `ferry: ignored ${join(deploy, 'compose.yaml')} → ${join(root, 'shared', 'compose.yaml')}: a symbolic link out of ${deploy}\n`,
      )
      expect(await readFile(join(root, 'shared', 'compose.yaml'), 'utf8')).toBe(compose('postgres:16'))
      expect(await readFile(join(root, 'shared', 'more', 'compose.yaml'), 'utf8')).toBe(compose('redis:7'))
    })

    it('pin --in-place LINK writes through to the target and keeps the link (L8)', async () => {
      const root = await tree('link-arg', { 'shared/compose.yaml': compose('postgres:16') })
      await chmod(join(root, 'shared', 'compose.yaml'), 0o600)
      await mkdir(join(root, 'deploy'))
      const link = join(root, 'deploy', 'compose.yaml')
      await symlink('../shared/compose.yaml', link)
      const run = await pin([link, '--in-place'])
      expect(run.code, run.stderr).toBe(0)
      expect((await lstat(link)).isSymbolicLink()).toBe(true)
      expect(await readlink(link)).toBe('../shared/compose.yaml')
      expect(await readFile(join(root, 'shared', 'compose.yaml'), 'utf8')).toBe(
        compose(pinnedRef('postgres', '16')),
      )
      expect((await stat(join(root, 'shared', 'compose.yaml'))).mode & 0o7777).toBe(0o600)
      expect(await listTree(root)).toEqual([
        'deploy/compose.yaml -> ../shared/compose.yaml',
        'deploy/ferry.lock.json',
        'shared/compose.yaml',
      ])
    })
  })

  describe('all or nothing (L2)', () => {
    it('--out onto a directory in the way: one line naming it, exit 1, nothing written, no temporary files', async () => {
      const input = await tree('occupied-in', {
        'a.yaml': compose('postgres:16'),
        'z.yaml': compose('redis:7'),
      })
      const out = await tree('occupied-out', { 'z.yaml/sub/keep': 'mine\n' })
      const run = await pin([input, '--out', out])
      expect(run.stderr).toBe(
        `ferry: cannot write ${join(out, 'z.yaml')}: is a directory (EISDIR); nothing was written\n`,
      )
      expect(run.code).toBe(1)
      expect(await listTree(out)).toEqual(['z.yaml/sub/keep'])
    })

    it('--in-place with a file that cannot be replaced: the other files stay as they were', async () => {
      const input = await tree('immutable', {
        'a/compose.yaml': compose('postgres:16'),
        'z/compose.yaml': compose('redis:7'),
      })
      const z = join(input, 'z', 'compose.yaml')
      // Root may replace any file but an immutable one; another user cannot replace one in a 0555 directory.
      if (isRoot) execFileSync('chattr', ['+i', z])
      else await chmod(dirname(z), 0o555)
      try {
        const run = await pin([input, '--in-place'])
        expect(run.code).toBe(1)
        expect(run.stderr).toMatch(
          new RegExp(`^ferry: cannot write ${z}: [a-z ]+ \\((EPERM|EACCES)\\); nothing was written\\n$`),
        )
      } finally {
        if (isRoot) execFileSync('chattr', ['-i', z])
        else await chmod(dirname(z), 0o755)
      }
      expect(await readFile(join(input, 'a', 'compose.yaml'), 'utf8')).toBe(compose('postgres:16'))
      expect(await readFile(z, 'utf8')).toBe(compose('redis:7'))
      expect(await listTree(input)).toEqual(['a/compose.yaml', 'z/compose.yaml'])
    })
  })

  describe('anchors (L6)', () => {
    const shared = (value: string) =>
      [
        `x-img: &img ${value}`,
        'services:',
        '  db:',
        '    image: *img',
        '    environment:',
        '      UPSTREAM_IMAGE: *img',
        '    labels: {note: *img}',
        '',
      ].join('\n')

    it('refuses an anchored image also used outside image positions; --check says why', async () => {
      const dir = await tree('anchor-shared', { 'compose.yaml': shared('postgres:16') })
      const run = await pin([dir, '--in-place'])
      expect(run.code).toBe(5)
      const why =
        'the anchor &img is also used at services.db.environment.UPSTREAM_IMAGE, services.db.labels.note: pinning it would change those too'
      expect(run.stdout).toContain(`failed  ${join(dir, 'compose.yaml')}:1  postgres:16  `)
      expect(run.stdout).toContain(why)
      expect(await readFile(join(dir, 'compose.yaml'), 'utf8')).toBe(shared('postgres:16'))
      const check = await pin([dir, '--check'])
      expect(check.code).toBe(1)
      expect(check.stdout).toContain(why)
    })

    it('pins an anchor that every alias uses as an image', async () => {
      const text = [
        'x-img: &img postgres:16',
        'services:',
        '  a: {image: *img}',
        '  b:',
        '    image: *img',
        '',
      ].join('\n')
      const dir = await tree('anchor-images', { 'compose.yaml': text })
      const run = await pin([dir, '--in-place'])
      expect(run.code, run.stderr).toBe(0)
      expect(await readFile(join(dir, 'compose.yaml'), 'utf8')).toBe(
        text.replace('postgres:16', pinnedRef('postgres', '16')),
      )
    })
  })

  describe('--out writes the whole tree (L7)', () => {
    it('copies unchanged, ignored and non-YAML files verbatim with their modes; skips hidden directories', async () => {
      const template = '{{- if .Values.enabled }}\nkind: Pod\n{{- end }}\n'
      const archive = Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0x00])
      const files: Record<string, string | Uint8Array> = {
        'Chart.yaml': 'apiVersion: v2\nname: mini\nversion: 0.1.0\n',
        'values.yaml': 'image:\n  repository: postgres\n  tag: "16"\n',
        'templates/deployment.yaml': template,
        'templates/_helpers.tpl': '{{- define "mini.name" -}}mini{{- end }}\n',
        '.helmignore': '.git/\n',
        'scripts/run.sh': '#!/bin/sh\nexit 0\n',
        'charts/dep-0.1.0.tgz': archive,
        '.git/HEAD': 'ref: refs/heads/main\n',
      }
      const chart = await tree('chart', files)
      await chmod(join(chart, 'values.yaml'), 0o600)
      await chmod(join(chart, 'scripts', 'run.sh'), 0o755)
      const out = join(tmp.dir, 'chart-out')
      const run = await pin([chart, '--out', out])
      expect(run.code, run.stderr).toBe(0)
      expect(run.stderr).toContain(
        `ferry: ignored ${join(chart, 'templates', 'deployment.yaml')}:1:3: Block collections are not allowed within flow collections (copied unchanged)\n`,
      )
      const copied = Object.keys(files).filter((f) => !f.startsWith('.git/') && f !== 'values.yaml')
      expect(await listTree(out)).toEqual([...copied, 'values.yaml', 'ferry.lock.json'].sort())
      for (const name of copied) expect(await readFile(join(out, name))).toEqual(Buffer.from(files[name]!))
      expect(await readFile(join(out, 'values.yaml'), 'utf8')).toContain(`tag: "16@${digests.postgres}"`)
      expect((await stat(join(out, 'values.yaml'))).mode & 0o7777).toBe(0o600)
      expect((await stat(join(out, 'scripts', 'run.sh'))).mode & 0o7777).toBe(0o755)
      const report = JSON.parse((await pin([chart, '--out', join(tmp.dir, 'chart-out2'), '--json'])).stdout)
      expect(report.written).toHaveLength(copied.length + 2)
    })
  })
})
