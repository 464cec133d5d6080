import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { errorOf, LABELS, push, SourceImages, skopeo, stateOf } from './policy-helpers.js'

/**
 * `serve --policy` holds skopeo, a client that knows nothing of ferry's policy, to the rules promote and
 * tag apply. The environments are matched with `--name registry.test`: the globs name the registry as
 * users write them, not the loopback address the test reaches it by.
 */
const POLICY = `version: 1
naming:
  repository: "{org}/{service}"
labels:
  require: [org.opencontainers.image.source, org.opencontainers.image.revision]
environments:
  - name: prod
    match: { repositories: ["registry.test/acme/*-prod"] }
    forbid:
      # sha256-* too: a forbidden-tag rule must not stop a signature or SBOM from attaching.
      tags: [latest, "sha256-*"]
    tags: { semver: true }
    immutable: true
  - name: staging
    match: { repositories: ["registry.test/acme/*-staging"] }
    mode: warn
    immutable: true
`

describe('serve --policy: pushes and deletes by any client', { timeout: 120_000 }, () => {
  let dir: string
  let root: string
  let served: ServeProcess
  let src: SourceImages
  let host: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-policy-'))
    root = join(dir, 'root')
    await writeFile(join(dir, 'ferry.policy.yaml'), POLICY)
    served = await startFerryServe([
      '--root',
      root,
      '--policy',
      join(dir, 'ferry.policy.yaml'),
      '--name',
      'registry.test',
    ])
    host = served.host
    src = await SourceImages.create(join(dir, 'src'))
  })
  afterAll(async () => {
    await served?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  /** Pushes `ref` as REPO:TAG with skopeo, which must be refused with `expected` and change nothing. */
  async function refused(ref: string, repository: string, tag: string, expected: RegExp) {
    const before = await stateOf(root, repository)
    const r = await push(ref, `${host}/${repository}:${tag}`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/denied/)
    expect(r.stderr).toMatch(expected)
    const listed = await skopeo('list-tags', '--tls-verify=false', `docker://${host}/${repository}`)
    expect(await stateOf(root, repository)).toEqual(before)
    return { stderr: r.stderr, listed }
  }

  it('publishes a release, and takes the same digest again as a no-op', async () => {
    const v1 = await src.image('v1', { ...LABELS, build: '1' })
    expect((await push(v1.ref, `${host}/acme/web-prod:v1.0.0`)).code).toBe(0)
    const after = await stateOf(root, 'acme/web-prod')
    expect(after.tags).toEqual({ 'v1.0.0': v1.manifest.digest })

    const again = await push(v1.ref, `${host}/acme/web-prod:v1.0.0`)
    expect(again.stderr).not.toMatch(/denied/)
    expect(again.code).toBe(0)
    expect(await stateOf(root, 'acme/web-prod')).toEqual(after)
  })

  it('immutable: a published tag never moves; 403 DENIED names the rule, the environment and both digests', async () => {
    const v1 = await src.image('v1', { ...LABELS, build: '1' })
    const other = await src.image('other', { ...LABELS, build: '2' })
    await push(v1.ref, `${host}/acme/web-prod:v1.0.0`)
    const { stderr, listed } = await refused(
      other.ref,
      'acme/web-prod',
      'v1.0.0',
      /immutable \(environment prod\): "v1\.0\.0" is immutable and names sha256:/,
    )
    expect(stderr).toContain(v1.manifest.digest)
    expect(stderr).toContain(other.manifest.digest)
    expect(JSON.parse(listed.stdout).Tags).toEqual(['v1.0.0'])

    // The answer itself, as every client gets it: 403 and the spec's error body with code DENIED.
    const res = await fetch(`http://${host}/v2/acme/web-prod/manifests/v1.0.0`, {
      method: 'PUT',
      headers: { 'Content-Type': other.manifest.mediaType },
      body: Buffer.from(other.manifest.bytes),
    })
    expect(res.status).toBe(403)
    expect(await errorOf(res)).toEqual({
      code: 'DENIED',
      message: `acme/web-prod:v1.0.0: immutable (environment prod): "v1.0.0" is immutable and names ${v1.manifest.digest}; it cannot move to ${other.manifest.digest}`,
      detail: { checks: [{ rule: 'immutable', environment: 'prod' }] },
    })
  })

  it('tags.forbid: latest is refused', async () => {
    const img = await src.image('latest', { ...LABELS, build: 'latest' })
    await refused(
      img.ref,
      'acme/web-prod',
      'latest',
      /tags\.forbid \(environment prod\): tag "latest" is forbidden here/,
    )
  })

  it('tags.semver: a tag that is not vX.Y.Z is refused', async () => {
    const img = await src.image('one', { ...LABELS, build: 'one' })
    await refused(
      img.ref,
      'acme/web-prod',
      '1.0',
      /tags\.semver \(environment prod\): "1\.0" is not a SemVer release tag/,
    )
  })

  it('labels: an image without the required labels is refused', async () => {
    const img = await src.image('unlabelled', { build: 'unlabelled' })
    await refused(
      img.ref,
      'acme/web-prod',
      'v1.0.1',
      /labels \(environment prod\): missing org\.opencontainers\.image\.source, org\.opencontainers\.image\.revision/,
    )
    // The same image with them goes in: the labels were what was missing.
    const labelled = await src.image('labelled', { ...LABELS, build: 'unlabelled' })
    expect((await push(labelled.ref, `${host}/acme/web-prod:v1.0.1`)).code).toBe(0)
  })

  it('labels of an index are read from each platform image the client pushed first', async () => {
    const good = await src.index('multi', [LABELS, LABELS])
    expect((await push(good.ref, `${host}/acme/multi-prod:v2.0.0`, '--all')).code).toBe(0)
    expect((await stateOf(root, 'acme/multi-prod')).tags).toEqual({ 'v2.0.0': good.manifest.digest })

    // One platform image lacks the revision: the platform images go in by digest (naming only), the
    // index under its tag does not. (skopeo, refused, tries a Docker list next, which --preserve-digests
    // forbids, and reports that: the refusal is in the server's log.)
    const partial = await src.index('partial', [LABELS, { 'org.opencontainers.image.source': 'x' }])
    const r = await push(partial.ref, `${host}/acme/multi-prod:v2.0.1`, '--all')
    expect(r.code).not.toBe(0)
    expect(served.output()).toMatch(
      /PUT acme\/multi-prod:v2\.0\.1: labels \(environment prod\): missing org\.opencontainers\.image\.revision .*: refused/,
    )
    const after = await stateOf(root, 'acme/multi-prod')
    expect(after.tags).toEqual({ 'v2.0.0': good.manifest.digest })
    expect(after.blobs).not.toContain(partial.manifest.digest.slice('sha256:'.length))
  })

  it('naming: a repository outside the template is refused, by tag and by digest', async () => {
    const img = await src.image('deep', { ...LABELS, build: 'deep' })
    await refused(
      img.ref,
      'acme/team/web',
      'v1.0.0',
      /naming \(no environment\): "acme\/team\/web" has 3 path segment/,
    )
    // A push by digest is judged by naming alone, and naming still holds.
    const res = await fetch(`http://${host}/v2/acme/team/web/manifests/${img.manifest.digest}`, {
      method: 'PUT',
      headers: { 'Content-Type': img.manifest.mediaType },
      body: Buffer.from(img.manifest.bytes),
    })
    expect(res.status).toBe(403)
    expect((await errorOf(res))?.message).toMatch(/^acme\/team\/web@sha256:[0-9a-f]{64}: naming/)
  })

  it('a push by digest is governed by naming only: no tag or label rule applies', async () => {
    const img = await src.image('bare', { build: 'bare' })
    const res = await fetch(`http://${host}/v2/acme/web-prod/manifests/${img.manifest.digest}`, {
      method: 'PUT',
      headers: { 'Content-Type': img.manifest.mediaType },
      body: Buffer.from(img.manifest.bytes),
    })
    expect(res.status).toBe(201)
  })

  it('DELETE of an immutable tag, or of the manifest it names (or lists), is refused', async () => {
    const v1 = await src.image('del', { ...LABELS, build: 'del' })
    await push(v1.ref, `${host}/acme/del-prod:v1.0.0`)
    const before = await stateOf(root, 'acme/del-prod')

    // skopeo deletes by digest (what the tag resolves to).
    const r = await skopeo('delete', '--tls-verify=false', `docker://${host}/acme/del-prod:v1.0.0`)
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/DENIED/)
    expect(r.stderr).toMatch(
      /immutable \(environment prod\): "v1\.0\.0" is immutable and names sha256:[0-9a-f]{64}; it cannot be deleted/,
    )
    const byTag = await fetch(`http://${host}/v2/acme/del-prod/manifests/v1.0.0`, { method: 'DELETE' })
    expect(byTag.status).toBe(403)
    expect((await errorOf(byTag))?.code).toBe('DENIED')

    // A platform image of an immutable index goes with the release: refused too.
    const multi = (await stateOf(root, 'acme/multi-prod')).tags['v2.0.0']
    const child = (await (await fetch(`http://${host}/v2/acme/multi-prod/manifests/${multi}`)).json()) as {
      manifests: { digest: string }[]
    }
    const childDelete = await fetch(
      `http://${host}/v2/acme/multi-prod/manifests/${child.manifests[0]!.digest}`,
      {
        method: 'DELETE',
      },
    )
    expect(childDelete.status).toBe(403)
    expect((await errorOf(childDelete))?.message).toContain(`which lists ${child.manifests[0]!.digest}`)
    expect(await stateOf(root, 'acme/del-prod')).toEqual(before)

    // Outside an immutable environment a delete goes through as before.
    const free = await src.image('free', { ...LABELS, build: 'free' })
    await push(free.ref, `${host}/acme/free:v1.0.0`)
    expect((await skopeo('delete', '--tls-verify=false', `docker://${host}/acme/free:v1.0.0`)).code).toBe(0)
    expect((await stateOf(root, 'acme/free')).tags).toEqual({})
  })

  it('attachments are accepted after publication: cosign tags move (re-signing), forbid and SemVer do not apply', async () => {
    const v1 = await src.image('signed', { ...LABELS, build: 'signed' })
    await push(v1.ref, `${host}/acme/sig-prod:v1.0.0`)
    const sigTag = `${v1.manifest.digest.replace(':', '-')}.sig`
    // Shaped like cosign's .sig images: a simple-signing layer, no file system.
    const sig1 = await src.signature('sig1', v1.manifest.digest)
    const sig2 = await src.signature('sig2', v1.manifest.digest)
    expect((await push(sig1.ref, `${host}/acme/sig-prod:${sigTag}`)).code).toBe(0)
    expect((await push(sig2.ref, `${host}/acme/sig-prod:${sigTag}`)).code).toBe(0)
    expect((await stateOf(root, 'acme/sig-prod')).tags).toEqual({
      'v1.0.0': v1.manifest.digest,
      [sigTag]: sig2.manifest.digest,
    })

    // A runnable image is no attachment, whatever its tag says: judged as an image (and refused).
    const smuggled = await src.image('smuggled', { build: 'smuggled' })
    await refused(
      smuggled.ref,
      'acme/sig-prod',
      `${v1.manifest.digest.replace(':', '-')}.att`,
      /tags\.forbid|tags\.semver|labels/,
    )
  })

  it('warn mode: a failure is logged and the push goes through', async () => {
    const a = await src.image('wa', { ...LABELS, build: 'wa' })
    const b = await src.image('wb', { ...LABELS, build: 'wb' })
    expect((await push(a.ref, `${host}/acme/web-staging:v1`)).code).toBe(0)
    expect((await push(b.ref, `${host}/acme/web-staging:v1`)).code).toBe(0)
    expect((await stateOf(root, 'acme/web-staging')).tags).toEqual({ v1: b.manifest.digest })
    expect(served.output()).toMatch(
      /PUT acme\/web-staging:v1: policy warning: immutable \(environment staging\)/,
    )
  })
})
