#!/usr/bin/env node
// `npm run build:image [-- --key KEY] [--source URL]`: ferry's own image, oci:dist/image:VERSION, made by
// ferry's library from what `npm run build:exe` made, with no Docker and no base image:
//   - one layer: the executable (/usr/local/bin/ferry) and pkcs11js.node beside it, the shared libraries
//     both link against (as ldd finds them here), the CA bundle, /etc/passwd and /etc/group with a non-root
//     user `ferry` (65532) and its home, /tmp;
//   - a config that runs as that user, entrypoint `ferry`, with the OCI labels source, revision, created
//     (revision and created from the commit the executable was built from, so the same commit gives the
//     same bytes);
//   - an SPDX 2.3 SBOM of the npm packages in the executable (from package-lock.json), attached as a referrer;
//   - with --key: the image and the SBOM signed (cosign's classic format; a key file signs deterministically).
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, realpathSync, rmSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import tar from 'tar-stream'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { key: { type: 'string' }, source: { type: 'string' } } })
const lib = await import(join(root, 'dist', 'src', 'index.js'))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const exeDir = join(root, 'dist', 'exe')
const exe = join(exeDir, `ferry-linux-${process.arch}`)
const layoutDir = join(root, 'dist', 'image')
const UID = 65532
const sha256 = (bytes) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** What the executable says it was built from: the commit and its time are what the image is stamped with. */
const built = JSON.parse(
  execFileSync(exe, ['version', '--verbose', '--json'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }),
)
if (!built.commit || !built.commitTime)
  throw new Error(`${exe} was built outside a git checkout: no commit to stamp`)
const created = built.commitTime
const mtime = new Date(created)

/** The source repository's URL: --source, else package.json's repository, else the checkout's origin. */
function sourceUrl() {
  if (values.source) return values.source
  const repo = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url
  if (repo) return repo
  try {
    return execFileSync('git', ['remote', 'get-url', 'origin'], {
      cwd: root,
      encoding: 'utf8',
      stdio: 'pipe',
    }).trim()
  } catch {
    throw new Error(
      'no source URL for org.opencontainers.image.source: pass --source URL (or add package.json repository)',
    )
  }
}

/** Every shared object the binaries load, at the path the loader looks for it (ldd's), with the real file's bytes. */
function sharedLibraries(binaries) {
  const paths = new Set()
  for (const bin of binaries) {
    for (const line of execFileSync('ldd', [bin], { encoding: 'utf8' }).split('\n')) {
      const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)
      if (m) paths.add(m[1])
    }
  }
  return [...paths].map((path) => ({ path, bytes: readFileSync(realpathSync(path)), mode: 0o755 }))
}

const text = (path, content, mode = 0o644) => ({ path, bytes: Buffer.from(content), mode })

function layerFiles() {
  const files = [
    { path: '/usr/local/bin/ferry', bytes: readFileSync(exe), mode: 0o755 },
    { path: '/usr/local/bin/pkcs11js.node', bytes: readFileSync(join(exeDir, 'pkcs11js.node')), mode: 0o755 },
    ...sharedLibraries([exe, join(exeDir, 'pkcs11js.node')]),
    {
      path: '/etc/ssl/certs/ca-certificates.crt',
      bytes: readFileSync('/etc/ssl/certs/ca-certificates.crt'),
      mode: 0o644,
    },
    text(
      '/etc/passwd',
      `root:x:0:0:root:/root:/sbin/nologin\nferry:x:${UID}:${UID}:ferry:/home/ferry:/sbin/nologin\n`,
    ),
    text('/etc/group', `root:x:0:\nferry:x:${UID}:\n`),
    // No /etc/hosts or resolv.conf: the runtime mounts them. Without nsswitch.conf glibc would try DNS first.
    text('/etc/nsswitch.conf', 'hosts: files dns\n'),
  ]
  const dirs = [
    { path: '/home/ferry', mode: 0o755, uid: UID },
    { path: '/tmp', mode: 0o1777 },
  ]
  return { files, dirs }
}

/** The layer tar: parents before children, sorted, fixed mtime, numeric owners, nothing from the host. */
async function layerTar({ files, dirs }) {
  const entries = new Map()
  const addDir = (path, mode = 0o755, uid = 0) => {
    const parent = dirname(path)
    if (parent !== '/' && !entries.has(parent)) addDir(parent)
    if (!entries.has(path)) entries.set(path, { type: 'directory', mode, uid })
  }
  for (const d of dirs) addDir(d.path, d.mode, d.uid)
  for (const f of files) {
    addDir(dirname(f.path))
    entries.set(f.path, { type: 'file', mode: f.mode, uid: 0, bytes: f.bytes })
  }
  const pack = tar.pack()
  const done = buffer(pack)
  for (const path of [...entries.keys()].sort()) {
    const e = entries.get(path)
    const name = path.slice(1) + (e.type === 'directory' ? '/' : '')
    const header = { name, type: e.type, mode: e.mode, uid: e.uid, gid: e.uid, mtime, uname: '', gname: '' }
    if (e.type === 'file') pack.entry({ ...header, size: e.bytes.length }, e.bytes)
    else pack.entry(header)
  }
  pack.finalize()
  return done
}

/** SPDX 2.3 JSON: the npm packages the executable carries (package-lock.json's non-dev ones) and Node itself. */
function spdxSbom(imageName) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
  const ref = (name) => `SPDXRef-npm-${name.replace(/[^A-Za-z0-9.-]/g, '-')}`
  const npm = Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.devOptional)
    .map(([path, p]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 13), ...p }))
  const seen = new Set()
  const packages = [
    {
      name: pkg.name,
      SPDXID: 'SPDXRef-ferry',
      versionInfo: pkg.version,
      downloadLocation: 'NOASSERTION',
      licenseDeclared: pkg.license,
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: `pkg:npm/${pkg.name}@${pkg.version}`,
        },
      ],
    },
    {
      name: 'node',
      SPDXID: 'SPDXRef-node',
      versionInfo: built.nodeVersion.replace(/^node-v/, ''),
      downloadLocation: 'NOASSERTION',
      licenseDeclared: 'MIT',
      comment: 'The Node.js runtime the single executable is made of.',
    },
  ]
  for (const p of npm.sort((a, b) => `${a.name}@${a.version}`.localeCompare(`${b.name}@${b.version}`))) {
    const id = `${ref(p.name)}-${p.version}`
    if (seen.has(id)) continue
    seen.add(id)
    packages.push({
      name: p.name,
      SPDXID: id,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      licenseDeclared: p.license ?? 'NOASSERTION',
      ...(p.integrity ? { checksums: [integrityChecksum(p.integrity)].filter(Boolean) } : {}),
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: `pkg:npm/${encodeURIComponent(p.name).replace('%40', '@').replace('%2F', '/')}@${p.version}`,
        },
      ],
    })
  }
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: imageName,
    documentNamespace: `urn:ferry:sbom:${pkg.name}:${pkg.version}:${built.commit}`,
    creationInfo: { created, creators: [`Tool: ferry-${pkg.version}`] },
    documentDescribes: ['SPDXRef-ferry'],
    packages: packages.map((p) => ({ ...p, checksums: p.checksums?.length ? p.checksums : undefined })),
    relationships: packages.slice(1).map((p) => ({
      spdxElementId: 'SPDXRef-ferry',
      relationshipType: 'DEPENDS_ON',
      relatedSpdxElement: p.SPDXID,
    })),
  }
}

/** npm's integrity (sha512-BASE64) as an SPDX checksum. */
function integrityChecksum(integrity) {
  const m = /^sha512-(.+)$/.exec(integrity.split(' ')[0])
  return m ? { algorithm: 'SHA512', checksumValue: Buffer.from(m[1], 'base64').toString('hex') } : undefined
}

const json = (value) => Buffer.from(JSON.stringify(value))

async function push(target, mediaType, bytes) {
  const desc = { mediaType, digest: sha256(bytes), size: bytes.length }
  if (!(await target.hasBlob(desc))) await target.pushBlob(desc, Readable.from([bytes]))
  return desc
}

const labels = {
  'org.opencontainers.image.created': created,
  'org.opencontainers.image.source': sourceUrl(),
  'org.opencontainers.image.revision': built.commit,
  'org.opencontainers.image.version': pkg.version,
  'org.opencontainers.image.title': pkg.name,
  'org.opencontainers.image.description': pkg.description,
  'org.opencontainers.image.licenses': pkg.license,
}

const tarBytes = await layerTar(layerFiles())
const layerBytes = gzipSync(tarBytes, { level: 9 })
const goArch = { x64: 'amd64', arm64: 'arm64' }[process.arch]
const config = {
  created,
  architecture: goArch,
  os: 'linux',
  config: {
    User: `${UID}:${UID}`,
    Env: [
      'PATH=/usr/local/bin:/usr/bin:/bin',
      'HOME=/home/ferry',
      // Node trusts its own Mozilla roots and these: mount a site's CA bundle over this path to add its CAs.
      'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
    ],
    Entrypoint: ['/usr/local/bin/ferry'],
    Cmd: ['--help'],
    WorkingDir: '/home/ferry',
    Labels: labels,
  },
  rootfs: { type: 'layers', diff_ids: [sha256(tarBytes)] },
  history: [{ created, created_by: `npm run build:image (ferry ${pkg.version})` }],
}

rmSync(layoutDir, { recursive: true, force: true })
const target = await lib.openLayoutTarget(layoutDir, { create: true })
try {
  const configDesc = await push(target, 'application/vnd.oci.image.config.v1+json', json(config))
  const layerDesc = await push(target, 'application/vnd.oci.image.layer.v1.tar+gzip', layerBytes)
  const manifestBytes = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: configDesc,
    layers: [layerDesc],
    annotations: labels,
  })
  const manifest = lib.parseManifest(manifestBytes, { subject: 'ferry image' })
  await lib.storeTagged(target, manifest, pkg.version)

  const signer = values.key ? await openKey(values.key) : undefined
  try {
    const sbom = await lib.attachSbom({
      target,
      reference: pkg.version,
      bytes: json(spdxSbom(`${pkg.name}-${pkg.version}`)),
      title: 'ferry.spdx.json',
      created,
      ...(signer ? { key: signer } : {}),
    })
    if (signer) await lib.signImage({ target, reference: pkg.version, key: signer })
    process.stdout.write(
      `oci:${join('dist', 'image')}:${pkg.version}@${manifest.digest}\n` +
        `  layer ${layerDesc.size} bytes (${tarBytes.length} uncompressed), SBOM ${sbom.digest}${signer ? ', signed' : ''}\n`,
    )
  } finally {
    await signer?.close()
  }
} finally {
  await target.close()
}

/** The key the CLI would open for --key: a key file (password from FERRY_PASSWORD, …) or a pkcs11: URI. */
async function openKey(key) {
  const { cliKeySecrets } = await import(join(root, 'dist', 'cli', 'signing-key.js'))
  return lib.openSigner(
    key,
    cliKeySecrets((line) => process.stderr.write(`${line}\n`)),
  )
}

statSync(layoutDir)
