#!/usr/bin/env node
// `npm run demo`: ferry's main job, end to end, on the embedded registry (`ferry serve`), with images the
// demo makes itself. Needs nothing but Node: no Docker, no network. Every step prints the command it runs.
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, 'demo-out')
const bin = join(root, 'bin', 'run.js')
const rel = (p) => relative(out, p) || '.'

// The demo's signing key password; in real use it comes from a secret store or a prompt.
const env = { ...process.env, FORCE_COLOR: '0', FERRY_PASSWORD: 'demo-only-password' }

function ferry(...args) {
  process.stdout.write(`\n$ ferry ${args.join(' ')}\n`)
  const r = spawnSync(process.execPath, [bin, ...args], {
    stdio: ['inherit', 'pipe', 'inherit'],
    env,
    cwd: out,
  })
  process.stdout.write(r.stdout)
  // Thrown, not process.exit: the registries started below must be stopped on the way out.
  if (r.status !== 0) throw new Error(`demo: "ferry ${args.join(' ')}" exited with ${r.status}`)
  return r.stdout.toString().trim()
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function waitFor(url) {
  for (let i = 0; i < 100; i++) {
    try {
      await (await fetch(url)).arrayBuffer()
      return
    } catch {
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  throw new Error(`${url} did not come up`)
}

rmSync(out, { recursive: true, force: true })
const source = join(out, 'source')
const section = (title) => process.stdout.write(`\n== ${title}\n`)
process.stdout.write(`Working in ${relative(process.cwd(), out)}/ (commands below run there)\n`)

// 1. Make a small multi-arch image (two platforms, two layers each) in an OCI layout directory.
const { openLayoutTarget } = await import('../dist/src/layout/index.js')
const { pushSyntheticIndex } = await import('../dist/src/synthetic.js')
const layout = await openLayoutTarget(source, { create: true })
const labels = {
  'org.opencontainers.image.source': 'https://example.com/acme/mini-api',
  'org.opencontainers.image.revision': '4f2c1a9',
  'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
}
await pushSyntheticIndex(
  layout,
  { seed: 'mini-api-1.0', layers: 2, layerSize: 2 * 1024 * 1024, labels },
  [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
  ],
  '1.0',
)
await layout.close()
section('An image in an OCI layout directory')
process.stdout.write(`Made a two-platform image at oci:${rel(source)}:1.0\n`)
ferry('inspect', `oci:${rel(source)}:1.0`)

// 2. Start the embedded registry and copy the image into it, byte for byte.
const port = await freePort()
const registry = `127.0.0.1:${port}`
process.stdout.write(`\n$ ferry serve --root ${rel(join(out, 'registry'))} --port ${port} &\n`)
const server = spawn(
  process.execPath,
  [bin, 'serve', '--root', join(out, 'registry'), '--port', String(port)],
  {
    stdio: ['ignore', 'inherit', 'inherit'],
  },
)
try {
  await waitFor(`http://${registry}/v2/`)
  const app = `${registry}/acme/mini-api`

  section('Copy it into the registry, byte for byte')
  ferry('copy', `oci:${rel(source)}:1.0`, `${app}:1.0`)
  ferry('digest', `${app}:1.0`)
  ferry('inspect', `${app}:1.0`, '--platform', 'linux/arm64')

  section('Sign it and attach an SBOM (cosign-compatible)')
  ferry('key', 'generate', '--output-key-prefix', 'release')
  ferry('sign', `${app}:1.0`, '--key', 'release.key', '--format', 'both', '-a', 'release=1.0')
  writeFileSync(join(out, 'sbom.spdx.json'), JSON.stringify(spdx(), null, 2))
  const sbom = ferry('attach', 'sbom', `${app}:1.0`, '--file', 'sbom.spdx.json').split('\n')[0]
  ferry('sign', sbom, '--key', 'release.key')
  ferry('referrers', `${app}:1.0`)

  section('Verify offline with the public key')
  ferry('verify', `${app}:1.0`, '--key', 'release.pub', '--require-sbom', '--annotation', 'release=1.0')

  section('Promote by digest, with signatures and SBOM, and verify the promoted copy')
  ferry('copy', `${app}:1.0`, `${registry}/acme/mini-api-prod:1.0`, '--referrers')
  ferry('verify', `${registry}/acme/mini-api-prod:1.0`, '--key', 'release.pub')

  section('Mirror on a schedule: the second run only checks, and moves nothing')
  const mirror = [
    'version: 1',
    `target: ${registry}/mirror`,
    'images:',
    `  - source: ${app}`,
    '    tags: { semver: ">=1" }',
  ]
  writeFileSync(join(out, 'mirror.yaml'), `${mirror.join('\n')}\n`)
  ferry('sync', 'mirror.yaml')
  ferry('sync', 'mirror.yaml')
  ferry('catalog', registry)

  section('Carry it across an air gap: one signed, reproducible bundle file')
  ferry('bundle', 'create', '--image', `${app}:1.0`, '--output', 'mini-api-1.0.tar', '--key', 'release.key')
  ferry('bundle', 'ls', 'mini-api-1.0.tar')
  ferry('bundle', 'verify', 'mini-api-1.0.tar', '--key', 'release.pub', '--require-sbom')

  section('On the closed side: import into its own registry, then verify there, offline')
  const closedPort = await freePort()
  const closed = `127.0.0.1:${closedPort}`
  process.stdout.write(`\n$ ferry serve --root closed-registry --port ${closedPort} &\n`)
  const closedServer = spawn(
    process.execPath,
    [bin, 'serve', '--root', join(out, 'closed-registry'), '--port', String(closedPort)],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  )
  try {
    await waitFor(`http://${closed}/v2/`)
    ferry(
      'bundle',
      'import',
      'mini-api-1.0.tar',
      '--to',
      `${closed}/site`,
      '--key',
      'release.pub',
      '--mapping-out',
      'images.json',
    )
    ferry('verify', `${closed}/site/acme/mini-api:1.0`, '--key', 'release.pub', '--require-sbom')
    await pinDeployments(registry, closed)
  } finally {
    closedServer.kill('SIGTERM')
  }

  process.stdout.write(
    '\nDone. Two registries ran on demo-out/registry and demo-out/closed-registry; nothing left the machine.\n',
  )
} finally {
  server.kill('SIGTERM')
}

/**
 * The last step of the air gap: the deployment files of examples/mini-api rewritten to the closed
 * registry, by digest, and only after every image verified there. The service also needs postgres and
 * python; the demo makes signed stand-ins for them (no network) and carries them in a second bundle.
 */
async function pinDeployments(registry, closed) {
  section('Pin the deployment files to the closed registry, by digest, after verifying every image')
  const layout = await openLayoutTarget(join(out, 'base'), { create: true })
  const bases = [
    ['library/postgres', '16'],
    ['library/python', '3.12-slim'],
  ]
  for (const [repository, tag] of bases) {
    await pushSyntheticIndex(
      layout,
      { seed: `${repository}:${tag}`, layers: 1, layerSize: 256 * 1024 },
      [{ os: 'linux', architecture: 'amd64' }],
      tag,
    )
    process.stdout.write(`Made a stand-in for docker.io/${repository}:${tag}\n`)
  }
  await layout.close()
  const images = []
  for (const [repository, tag] of bases) {
    const image = `${registry}/${repository}:${tag}`
    const view = `oci:${rel(join(out, 'base'))}:${tag}`
    ferry('copy', view, image)
    ferry('sign', image, '--key', 'release.key')
    images.push(image)
  }
  ferry(
    'bundle',
    'create',
    '--image',
    images.join(','),
    '--output',
    'base-images.tar',
    '--key',
    'release.key',
  )
  ferry('bundle', 'import', 'base-images.tar', '--to', `${closed}/site`, '--key', 'release.pub')

  cpSync(join(root, 'examples', 'mini-api'), join(out, 'mini-api'), { recursive: true })
  // The example names ghcr.io/example/mini-api; the demo built it as acme/mini-api.
  writeFileSync(join(out, 'names.yaml'), 'ghcr.io/example/mini-api: acme/mini-api\n')
  ferry(
    'pin',
    'mini-api',
    '--registry',
    `${closed}/site`,
    '--mapping',
    'names.yaml',
    '--key',
    'release.pub',
    '--out',
    'mini-api-pinned',
  )
  process.stdout.write(`\n$ diff mini-api/compose.yaml mini-api-pinned/compose.yaml\n`)
  const diff = spawnSync('diff', ['mini-api/compose.yaml', 'mini-api-pinned/compose.yaml'], { cwd: out })
  process.stdout.write(diff.stdout)
  ferry('pin', 'mini-api-pinned', '--registry', `${closed}/site`, '--check')
}

function spdx() {
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'mini-api-1.0',
    documentNamespace: 'https://example.com/spdx/mini-api-1.0',
    creationInfo: { created: '2024-01-01T00:00:00Z', creators: ['Tool: ferry-demo'] },
    packages: [
      { SPDXID: 'SPDXRef-mini-api', name: 'mini-api', versionInfo: '1.0', downloadLocation: 'NOASSERTION' },
    ],
  }
}
