#!/usr/bin/env node
// `npm run demo`: ferry's main job, end to end, on the embedded registry (`ferry serve`), with images the
// demo makes itself. Needs nothing but Node: no Docker, no network. Every step prints the commands it runs
// and ends with one line saying what it proved, checked against what the commands printed. Where skopeo is
// installed, it is the client the policy-enforcing registry refuses (otherwise ferry plays that part).
//
// The demo is a list of step functions (STEPS, at the bottom) sharing one context: a new step is a new
// function and one more line in that list.
import { spawn, spawnSync } from 'node:child_process'
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
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
  return ferryExiting(0, ...args)
}

/** A command that must end with exit code `code` (a refusal the demo shows on purpose). */
function ferryExiting(code, ...args) {
  process.stdout.write(`\n$ ferry ${args.join(' ')}\n`)
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: ['inherit', 'pipe', 'pipe'], env, cwd: out })
  process.stdout.write(r.stdout)
  process.stdout.write(r.stderr)
  // Thrown, not process.exit: the registries started below must be stopped on the way out.
  if (r.status !== code)
    throw new Error(`demo: "ferry ${args.join(' ')}" exited with ${r.status}, not ${code}`)
  if (code !== 0) process.stdout.write(`(exit ${code}, as intended)\n`)
  return { stdout: r.stdout.toString().trim(), stderr: r.stderr.toString().trim() }
}

const section = (title) => process.stdout.write(`\n== ${title}\n`)

/** The step's one-line conclusion; `holds` is what the commands printed, so a false claim stops the demo. */
function proved(holds, claim) {
  if (!holds) throw new Error(`demo: expected, but not shown: ${claim}`)
  process.stdout.write(`\n=> proved: ${claim}\n`)
}

const short = (digest) => `${digest.slice(0, 19)}…`

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

/** `ferry serve` in the background, stopped by ctx.stop() however the demo ends. */
async function serve(ctx, dir, ...more) {
  const port = await freePort()
  process.stdout.write(
    `\n$ ferry serve --root ${rel(dir)} --port ${port}${more.map((a) => ` ${a}`).join('')} &\n`,
  )
  const server = spawn(process.execPath, [bin, 'serve', '--root', dir, '--port', String(port), ...more], {
    stdio: ['ignore', 'inherit', 'inherit'],
    cwd: out,
  })
  ctx.servers.push(server)
  await waitFor(`http://127.0.0.1:${port}/v2/`)
  return `127.0.0.1:${port}`
}

// 1. A small multi-arch image (two platforms, two layers each) in an OCI layout directory.
async function makeImage(ctx) {
  const { openLayoutTarget } = await import('../dist/src/layout/index.js')
  const { pushSyntheticIndex } = await import('../dist/src/synthetic.js')
  const source = join(out, 'source')
  const layout = await openLayoutTarget(source, { create: true })
  const labels = {
    'org.opencontainers.image.source': 'https://example.com/acme/mini-api',
    'org.opencontainers.image.revision': '4f2c1a9',
    'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
  }
  const index = await pushSyntheticIndex(
    layout,
    { seed: 'mini-api-1.0', layers: 2, layerSize: 2 * 1024 * 1024, labels },
    [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    '1.0',
  )
  await layout.close()
  ctx.digest = index.digest
  section('An image in an OCI layout directory')
  process.stdout.write(`Made a two-platform image at oci:${rel(source)}:1.0\n`)
  const shown = ferry('inspect', `oci:${rel(source)}:1.0`).stdout
  proved(
    shown.includes(index.digest) && shown.includes('linux/arm64/v8'),
    `the layout holds index ${short(index.digest)} for linux/amd64 and linux/arm64/v8`,
  )
}

// 2. Start the embedded registry and copy the image into it, byte for byte.
async function copyIn(ctx) {
  ctx.registry = await serve(ctx, join(out, 'registry'))
  ctx.app = `${ctx.registry}/acme/mini-api`
  section('Copy it into the registry, byte for byte')
  const copied = ferry('copy', 'oci:source:1.0', `${ctx.app}:1.0`).stdout
  const digest = ferry('digest', `${ctx.app}:1.0`).stdout
  ferry('inspect', `${ctx.app}:1.0`, '--platform', 'linux/arm64')
  proved(
    copied.endsWith(`@${ctx.digest}`) && digest === ctx.digest,
    `digest kept: the registry serves ${short(ctx.digest)}, the layout's own bytes`,
  )
}

// 3. Sign (both cosign schemes), attach an SBOM and sign that too.
async function signAndAttach(ctx) {
  const { app } = ctx
  section('Sign it and attach an SBOM (cosign-compatible)')
  ferry('key', 'generate', '--output-key-prefix', 'release')
  ferry('sign', `${app}:1.0`, '--key', 'release.key', '--format', 'both', '-a', 'release=1.0')
  writeFileSync(join(out, 'sbom.spdx.json'), JSON.stringify(spdx(), null, 2))
  const sbom = ferry('attach', 'sbom', `${app}:1.0`, '--file', 'sbom.spdx.json').stdout.split('\n')[0]
  ferry('sign', sbom, '--key', 'release.key')
  const tree = ferry('referrers', `${app}:1.0`).stdout
  const sbomDigest = sbom.slice(sbom.indexOf('@') + 1)
  proved(
    tree.includes('application/vnd.dev.sigstore.bundle') &&
      tree.includes(`sha256-${ctx.digest.slice(7)}.sig`) &&
      tree.includes(sbomDigest),
    'a classic and a bundle signature and an SBOM (itself signed) hang off the image',
  )
}

// 4. Verify with the public key alone.
async function verifyOffline(ctx) {
  section('Verify offline with the public key')
  const report = ferry(
    'verify',
    `${ctx.app}:1.0`,
    '--key',
    'release.pub',
    '--require-sbom',
    '--annotation',
    'release=1.0',
  ).stdout
  proved(
    report.startsWith('Verified:') &&
      report.includes('2 of 2 signatures verify with the required annotations'),
    'signature verified offline: both signatures carry release=1.0 and the SBOM is signed with the key',
  )
}

// 5. dev → prod through the policy gates: one refusal, one promotion by digest, the ledger.
async function promote(ctx) {
  section('Promote by digest through the policy gates, with an audit ledger')
  // Named, not ./ferry.policy.yaml: that one every writing command would apply to the steps below too.
  writeFileSync(join(out, 'governance.policy.yaml'), demoPolicy())
  process.stdout.write(
    'governance.policy.yaml: prod repositories (*-prod) need a signature and a signed SBOM by\n',
  )
  process.stdout.write(
    'release.pub, SemVer vX.Y.Z tags, no latest, and tags that never move; *-dev* tags only warn.\n',
  )
  const ledger = ['--policy', 'governance.policy.yaml', '--ledger', 'promotions.jsonl']
  ferry('promote', `${ctx.app}:1.0`, `${ctx.app}:v1.0.0-dev`, ...ledger)
  const refused = ferryExiting(
    7,
    'promote',
    `${ctx.app}:1.0`,
    `${ctx.registry}/acme/mini-api-prod:1.0`,
    ...ledger,
  )
  const prod = `${ctx.registry}/acme/mini-api-prod:v1.0.0`
  const promoted = ferry('promote', `${ctx.app}:1.0`, prod, ...ledger)
  const report = ferry('verify', prod, '--key', 'release.pub', '--require-sbom').stdout
  const records = ferry('ledger', 'ls', 'promotions.jsonl').stdout.split('\n')
  proved(
    refused.stdout.startsWith('refused:') &&
      promoted.stdout.startsWith('promoted:') &&
      promoted.stdout.includes(ctx.digest) &&
      !promoted.stdout.includes('FAIL') &&
      report.startsWith('Verified:') &&
      records.length === 3,
    'the same digest promoted dev → prod through 7 rules, the non-SemVer tag refused before anything was written, 3 attempts in the ledger',
  )
}

// 6. The registry holds every client to the policy: a skopeo push of `latest` into prod, refused.
async function registryEnforces(ctx) {
  section('The registry enforces the policy, whatever the client: a skopeo push refused')
  const gated = await serve(
    ctx,
    join(out, 'gated-registry'),
    '--policy',
    'governance.policy.yaml',
    '--ledger',
    'registry.jsonl',
  )
  const target = `${gated}/acme/mini-api-prod:latest`
  const hasSkopeo = spawnSync('skopeo', ['--version']).status === 0
  let said
  if (hasSkopeo) {
    const args = ['copy', '--src-tls-verify=false', '--dest-tls-verify=false']
    args.push(`docker://${ctx.app}:1.0`, `docker://${target}`)
    process.stdout.write(`\n$ skopeo ${args.join(' ')}\n`)
    const r = spawnSync('skopeo', args, { cwd: out })
    said = `${r.stdout}${r.stderr}`.replace(/\\+"/g, '"')
    // skopeo's last line carries the registry's answer; its progress lines are noise here.
    process.stdout.write(`${said.trim().split('\n').at(-1)}\n(exit ${r.status}, as intended)\n`)
    if (r.status === 0) throw new Error('demo: skopeo pushed latest into prod')
  } else {
    process.stdout.write(
      '(skopeo is not installed: ferry, told to apply no policy itself, plays the client)\n',
    )
    said = ferryExiting(7, 'copy', `${ctx.app}:1.0`, target, '--no-policy').stderr
  }
  const records = ferry('ledger', 'ls', 'registry.jsonl').stdout
  proved(
    /DENIED|denied/.test(said) &&
      said.includes('tags.forbid (environment prod)') &&
      records.includes('refused'),
    'the registry refused the push of latest into prod (403 DENIED, naming the rule) and recorded who tried',
  )
}

// 7. Mirror with a spec, twice: the second run only checks.
async function mirror(ctx) {
  section('Mirror on a schedule: the second run only checks, and moves nothing')
  const spec = [
    'version: 1',
    `target: ${ctx.registry}/mirror`,
    'images:',
    `  - source: ${ctx.app}`,
    '    tags: { semver: ">=1" }',
  ]
  writeFileSync(join(out, 'mirror.yaml'), `${spec.join('\n')}\n`)
  ferry('sync', 'mirror.yaml')
  const second = ferry('sync', 'mirror.yaml').stdout
  ferry('catalog', ctx.registry)
  proved(
    second.includes('1 image already in sync (0 bytes transferred, 0 manifests pushed)'),
    'nothing re-sent: the second run found the mirror in sync with HEAD requests alone',
  )
}

// 8. One signed, reproducible bundle file for the air gap.
async function bundleUp(ctx) {
  section('Carry it across an air gap: one signed, reproducible bundle file')
  ferry(
    'bundle',
    'create',
    '--image',
    `${ctx.app}:1.0`,
    '--output',
    'mini-api-1.0.tar',
    '--name',
    'mini-api',
    '--bundle-version',
    '1.0',
    '--key',
    'release.key',
  )
  ferry('bundle', 'ls', 'mini-api-1.0.tar')
  const report = ferry(
    'bundle',
    'verify',
    'mini-api-1.0.tar',
    '--key',
    'release.pub',
    '--require-sbom',
  ).stdout
  proved(
    report.startsWith('Verified: mini-api-1.0.tar — mini-api 1.0') && report.includes('every digest checked'),
    'bundle mini-api 1.0 is signed, every blob digest checks out, and its image verifies with its SBOM',
  )
}

// 9. The closed side: its own registry, the bundle imported, verified there.
async function importClosed(ctx) {
  section('On the closed side: import into its own registry, then verify there, offline')
  const closed = await serve(ctx, join(out, 'closed-registry'))
  ctx.closed = closed
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
  const report = ferry('verify', `${closed}/site/acme/mini-api:1.0`, '--key', 'release.pub', '--require-sbom')
  proved(
    report.stdout.startsWith(`Verified: ${closed}/site/acme/mini-api:1.0 (${ctx.digest})`),
    `same digest ${short(ctx.digest)} on the closed side, signatures and SBOM verified there offline`,
  )
}

// 10. A bad day at the gap: one byte changed in transit, and the closed side refuses the whole file.
async function tamperedRefused(ctx) {
  section('A tampered bundle is refused: one byte changed in transit, nothing imported')
  const tar = readFileSync(join(out, 'mini-api-1.0.tar'))
  const blob = flipByteInFirstLayer(tar)
  writeFileSync(join(out, 'tampered.tar'), tar)
  process.stdout.write(`Changed one byte of blob ${short(blob)} in a copy: tampered.tar\n`)
  const refused = ferryExiting(
    5,
    'bundle',
    'import',
    'tampered.tar',
    '--to',
    `${ctx.closed}/tampered`,
    '--key',
    'release.pub',
  )
  const catalog = ferry('catalog', ctx.closed).stdout
  proved(
    refused.stderr.includes(blob.slice(7, 19)) && !catalog.includes('tampered/'),
    `the tampered bundle was refused (blob ${short(blob)} does not match its digest) and nothing reached the registry`,
  )
}

/** Flips one byte in the contents of the bundle's largest blob (a layer); returns that blob's digest. */
function flipByteInFirstLayer(tar) {
  let largest = { size: 0, offset: 0, name: '' }
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512)
    if (header.every((b) => b === 0)) break
    const name = header.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '')
    const size = Number.parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8)
    if (name.startsWith('blobs/sha256/') && size > largest.size) largest = { size, offset: at + 512, name }
    at += 512 + Math.ceil(size / 512) * 512
  }
  tar[largest.offset + 100] ^= 0xff
  return `sha256:${largest.name.slice('blobs/sha256/'.length)}`
}

const STEPS = [
  makeImage,
  copyIn,
  signAndAttach,
  verifyOffline,
  promote,
  registryEnforces,
  mirror,
  bundleUp,
  importClosed,
  tamperedRefused,
  pinDeployments,
  retentionPlan,
  retentionApplyRestore,
  pullThroughCache,
]

rmSync(out, { recursive: true, force: true })
process.stdout.write(`Working in ${relative(process.cwd(), out)}/ (commands below run there)\n`)
const ctx = { servers: [] }
try {
  for (const step of STEPS) await step(ctx)
  process.stdout.write(
    '\nDone. Four registries ran on demo-out/registry, demo-out/gated-registry, demo-out/closed-registry and demo-out/cache (a pull-through cache); nothing left the machine.\n',
  )
} finally {
  for (const server of ctx.servers) server.kill('SIGTERM')
}

function demoPolicy() {
  return `version: 1
naming:
  repository: "{org}/{service}"
labels:
  require: [org.opencontainers.image.source, org.opencontainers.image.revision, org.opencontainers.image.created]
environments:
  - name: prod
    match: { repositories: ["**/*-prod"] }
    mode: enforce
    require:
      signature: { keys: [release.pub] }
      sbom: true
    forbid: { tags: [latest] }
    tags: { semver: true }
    immutable: true
  - name: dev
    match: { tags: { match: "*-dev*" } }
    mode: warn
`
}

/**
 * The last step of the air gap: the deployment files of examples/mini-api rewritten to the closed
 * registry, by digest, and only after every image verified there. The service also needs postgres and
 * python; the demo makes signed stand-ins for them (no network) and carries them in a second bundle.
 */
// 11. The deployment files, pinned to the closed registry by digest, after every image verified.
async function pinDeployments(ctx) {
  const { registry, closed } = ctx
  section('Pin the deployment files to the closed registry, by digest, after verifying every image')
  const { openLayoutTarget } = await import('../dist/src/layout/index.js')
  const { pushSyntheticIndex } = await import('../dist/src/synthetic.js')
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
  const pinned = diff.stdout.toString()
  proved(
    /@sha256:[0-9a-f]{64}/.test(pinned) && pinned.includes(`${closed}/site/`),
    'every image of the deployment files verified and pinned to the closed registry by digest; --check finds nothing left',
  )
}

// 12. Retention: what a weekly GC would do, read-only.
async function retentionPlan(ctx) {
  section('Retention: plan what a scheduled GC would keep, untag and delete (read-only)')
  writeFileSync(
    join(out, 'retention.policy.yaml'),
    'version: 1\nenvironments:\n  - name: dev\n    match: { tags: { match: "*-dev*" } }\n    retention: { keep: { count: 2 } }\n',
  )
  for (let i = 1; i <= 3; i++)
    ferry('tag', `${ctx.app}:1.0`, `1.0.1-dev.${i}`, '--policy', 'retention.policy.yaml')
  const plan = ferry('retention', 'plan', ctx.app, '--policy', 'retention.policy.yaml').stdout
  const kept = plan.split('\n').filter((l) => /^ {2}keep .*count \(dev\)/.test(l))
  proved(
    kept.length === 2 && plan.includes('keep 3, untag 2, delete 0 manifests'),
    'retention keeps the 2 newest dev tags and only untags the other 2: a kept tag needs their digest, so no manifest is deleted',
  )
}

// 13. Retention applied for real: a backup first, then the untags; restore puts everything back.
async function retentionApplyRestore(ctx) {
  section('Retention applied, then undone: a backup first, restore puts it all back')
  const before = ferry('tags', ctx.app).stdout.split('\n')
  ferry(
    'retention',
    'apply',
    ctx.app,
    '--policy',
    'retention.policy.yaml',
    '--yes',
    '--backup',
    'retention-backup',
  )
  const after = ferry('tags', ctx.app).stdout.split('\n')
  ferry('retention', 'restore', 'retention-backup', '--policy', 'retention.policy.yaml')
  const restored = ferry('tags', ctx.app).stdout.split('\n')
  const gone = before.filter((t) => !after.includes(t))
  proved(
    gone.length === 2 && restored.length === before.length && before.every((t) => restored.includes(t)),
    `apply backed up, then removed ${gone.join(' and ')}; restore put both back, the same ${before.length} tags as before`,
  )
}

// 14. A pull-through cache of the registry: the second pull asks upstream nothing.
async function pullThroughCache(ctx) {
  section('A pull-through cache: the first pull fetches from upstream, the second asks it nothing')
  const cache = await serve(ctx, join(out, 'cache'), '--upstream', `http://${ctx.registry}`)
  const upstreamRequests = async () => {
    const text = await (await fetch(`http://${cache}/metrics`)).text()
    const line = text.split('\n').find((l) => l.startsWith('ferry_upstream_requests_total'))
    return Number(line?.split(' ').pop() ?? Number.NaN)
  }
  ferry('copy', `${cache}/acme/mini-api:1.0`, 'oci:pull-1:1.0')
  const first = await upstreamRequests()
  ferry('copy', `${cache}/acme/mini-api:1.0`, 'oci:pull-2:1.0')
  const second = await upstreamRequests()
  process.stdout.write(
    `\nferry_upstream_requests_total (GET /metrics): ${first} after the first pull, ${second} after the second\n`,
  )
  proved(
    first > 0 && second === first,
    `the second pull came from the cache: ${first} requests to upstream for the first pull, none for the second`,
  )
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
