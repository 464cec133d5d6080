import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UploadSession } from '../../src/content/capabilities.js'
import type { ContextOptions } from '../../src/context.js'
import { defaultJournalPath, UploadJournal } from '../../src/copy/upload-journal.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import { digestOf } from '../../src/oci/digest.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import type { Descriptor } from '../../src/oci/schemas.js'
import type { ProgressEvent } from '../../src/progress.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, type Rule, type SeenRequest, startFaultProxy } from '../helpers/fault-proxy.js'
import { captureLogger } from '../registry/log-capture.js'

// The proxy in front of the destination stands in for a link that dies partway through a long upload
// (no real part does that on demand on loopback); the one in front of the source only watches.
const MiB = 1024 * 1024
const chunked = { chunkSize: MiB, retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 } }
const REACHED = 3 * MiB

/** Resets every PATCH into `repo`'s uploads after the first `n`: the link is gone for the rest of the run. */
function diesAfterPatches(repo: string, n: number): Rule {
  let seen = 0
  return (req) => {
    if (req.method !== 'PATCH' || !req.path.startsWith(`/v2/${repo}/blobs/uploads/`)) return undefined
    seen++
    return seen > n ? { kind: 'reset' } : undefined
  }
}

const layerOf = (m: Manifest): Descriptor => {
  if (m.kind !== 'image') throw new Error('expected an image')
  return m.image.layers[0]!
}

const progressOf = (events: ProgressEvent[], digest: string) =>
  events.reduce((n, e) => n + (e.type === 'advance' && e.item === digest ? e.done : 0), 0)

describe('uploads resumed across runs', () => {
  let source: Distribution
  let destination: Distribution
  let dst: FaultProxy
  let src: FaultProxy
  let dir: string
  let layoutDir: string
  let image: Manifest
  let layer: Descriptor

  beforeAll(async () => {
    ;[source, destination] = await Promise.all([startDistribution(), startDistribution()])
    ;[dst, src] = await Promise.all([startFaultProxy(destination.url), startFaultProxy(source.url)])
    dir = await mkdtemp(join(tmpdir(), 'ferry-resume-'))
    const spec = { seed: 'resume', layers: 1, layerSize: 5 * MiB }
    const client = new RegistryClient()
    image = await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'big/app' }),
      spec,
      '1.0',
    )
    await client.close()
    layoutDir = join(dir, 'layout')
    const layout = await openLayoutTarget(layoutDir, { create: true })
    expect((await pushSyntheticImage(layout, spec, '1.0')).digest).toBe(image.digest)
    await layout.close()
    layer = layerOf(image)
    expect(layer.size).toBeGreaterThan(5 * MiB)
  })
  afterAll(async () => {
    await Promise.all([dst?.stop(), src?.stop()])
    await Promise.all([source?.stop(), destination?.stop()])
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  /** Runs a copy that dies after REACHED bytes of the layer; returns what the journal kept. */
  async function interrupted(
    from: string,
    repo: string,
    journalPath: string,
    extra: ContextOptions & { journal?: UploadJournal } = {},
  ) {
    dst.setRule(diesAfterPatches(repo, REACHED / MiB))
    const { journal = new UploadJournal(journalPath), ...settings } = extra
    await expect(
      copyReference(testContext({ ...chunked, ...settings }), from, `${dst.host}/${repo}:1.0`, { journal }),
    ).rejects.toMatchObject({ code: 'NETWORK' })
    dst.setRule(undefined)
    const check = new RegistryClient()
    await expect(
      check.repository({ registry: destination.host, repository: repo }).resolve('1.0'),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await check.close()
    const entry = await new UploadJournal(journalPath).get(`${dst.host}/${repo}`, layer.digest)
    expect(entry).toMatchObject({ offset: REACHED, size: layer.size })
    return entry!
  }

  /** The second run, as a new process would make it: a fresh client and a fresh journal object. */
  async function rerun(
    from: string,
    repo: string,
    journalPath: string,
    extra: ContextOptions & { journal?: UploadJournal } = {},
  ) {
    const mark = dst.seen.length
    const events: ProgressEvent[] = []
    const { journal = new UploadJournal(journalPath), ...settings } = extra
    const progress = (e: ProgressEvent) => events.push(e)
    const result = await copyReference(
      testContext({ ...chunked, ...settings, progress }),
      from,
      `${dst.host}/${repo}:1.0`,
      { journal },
    )
    expect(result.destination.digest).toBe(image.digest)
    expect(await new UploadJournal(journalPath).get(`${dst.host}/${repo}`, layer.digest)).toBeUndefined()
    const check = new RegistryClient()
    expect(
      (await check.repository({ registry: destination.host, repository: repo }).resolve('1.0')).digest,
    ).toBe(image.digest)
    await check.close()
    return { seen: dst.seen.slice(mark), events }
  }

  const gets = (seen: SeenRequest[], location: string) =>
    seen.filter((r) => r.method === 'GET' && r.path.startsWith(new URL(location).pathname))
  const firstPatchRange = (seen: SeenRequest[]) =>
    seen.find((r) => r.method === 'PATCH')?.headers['content-range']

  it('continues a registry-to-registry upload after a restart from the offset the registry holds', async () => {
    const journalPath = join(dir, 'r1', 'uploads.json')
    const from = `${src.host}/big/app:1.0`
    const entry = await interrupted(from, 'r1/app', journalPath)
    const srcMark = src.seen.length
    const { seen, events } = await rerun(from, 'r1/app', journalPath)

    expect(gets(seen, entry.location)).toHaveLength(1)
    expect(firstPatchRange(seen)).toBe(`${REACHED}-${REACHED + MiB - 1}`)
    const layerReads = src.seen
      .slice(srcMark)
      .filter((r) => r.method === 'GET' && r.path.endsWith(layer.digest))
    expect(layerReads.map((r) => r.headers.range)).toEqual([`bytes=${REACHED}-`])
    expect(progressOf(events, layer.digest)).toBe(layer.size - REACHED)
    // The registry assembled the right bytes: a verified read of the whole blob succeeds.
    const client = new RegistryClient()
    const body = await client
      .repository({ registry: destination.host, repository: 'r1/app' })
      .fetchBlob(layer)
    let read = 0
    for await (const chunk of body) read += (chunk as Buffer).length
    expect(read).toBe(layer.size)
    await client.close()
  })

  it('uploads whole when the registry no longer has the session', async () => {
    const journalPath = join(dir, 'r2', 'uploads.json')
    const from = `${src.host}/big/app:1.0`
    const entry = await interrupted(from, 'r2/app', journalPath)
    const dropped = await fetch(entry.location, { method: 'DELETE' })
    expect(dropped.status).toBe(204)
    const log = captureLogger()
    const srcMark = src.seen.length
    const { seen, events } = await rerun(from, 'r2/app', journalPath, { logger: log })

    expect(gets(seen, entry.location)).toHaveLength(1)
    expect(firstPatchRange(seen)).toBe(`0-${MiB - 1}`)
    const layerReads = src.seen
      .slice(srcMark)
      .filter((r) => r.method === 'GET' && r.path.endsWith(layer.digest))
    expect(layerReads.map((r) => r.headers.range)).toEqual([undefined])
    expect(progressOf(events, layer.digest)).toBe(layer.size)
    const path = new URL(entry.location).pathname
    expect(log.lines).toContain(
      `${dst.host}/r2/app@${layer.digest}: the registry no longer has upload session ${path}; uploading it whole`,
    )
  })

  it('uploads whole when the source answers a Range request with the whole blob', async () => {
    const journalPath = join(dir, 'r7', 'uploads.json')
    const from = `${src.host}/big/app:1.0`
    await interrupted(from, 'r7/app', journalPath)
    // distribution honours Range; some registries and CDNs answer 200 with everything instead.
    src.setRule((req) =>
      req.method === 'GET' && req.headers.range && req.path.endsWith(layer.digest)
        ? { kind: 'status', status: 200, headers: { 'content-type': 'application/octet-stream' }, body: 'x' }
        : undefined,
    )
    const log = captureLogger()
    try {
      const { seen, events } = await rerun(from, 'r7/app', journalPath, { logger: log })
      expect(firstPatchRange(seen)).toBe(`0-${MiB - 1}`)
      expect(progressOf(events, layer.digest)).toBe(layer.size)
    } finally {
      src.setRule(undefined)
    }
    expect(
      log.lines.some((l) => l.includes(`cannot read from byte ${REACHED}`) && l.includes('HTTP 200')),
    ).toBe(true)
  })

  it('continues from a layout source by reading its blob file from the offset', async () => {
    const journalPath = join(dir, 'r3', 'uploads.json')
    const from = `oci:${layoutDir}:1.0`
    const entry = await interrupted(from, 'r3/app', journalPath)
    const { seen, events } = await rerun(from, 'r3/app', journalPath)

    expect(gets(seen, entry.location)).toHaveLength(1)
    expect(firstPatchRange(seen)).toBe(`${REACHED}-${REACHED + MiB - 1}`)
    expect(progressOf(events, layer.digest)).toBe(layer.size - REACHED)
  })

  it('ignores a corrupt journal with a warning, keeps the file private and never logs an upload URL', async () => {
    const journalPath = join(dir, 'r4', 'uploads.json')
    await mkdir(join(dir, 'r4'))
    await writeFile(journalPath, '{"version":1,"uploads":{"x":{"location":"ftp://', { mode: 0o644 })
    const log = captureLogger()
    const from = `${src.host}/big/app:1.0`
    // The copy's logger only: the registry clients' request lines go to their own (here: none).
    const first = new RegistryClient(chunked)
    const entry = await interrupted(from, 'r4/app', journalPath, {
      client: first,
      journal: new UploadJournal(journalPath, { logger: log }),
      logger: log,
    })
    await first.close()
    expect(log.lines).toEqual([`upload journal ${journalPath} is not a valid upload journal; ignoring it`])
    expect((await stat(journalPath)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(journalPath, 'utf8')).version).toBe(1)

    const second = new RegistryClient(chunked)
    await rerun(from, 'r4/app', journalPath, {
      client: second,
      journal: new UploadJournal(journalPath, { logger: log }),
      logger: log,
    })
    await second.close()
    expect(log.lines).toContain(`resuming ${dst.host}/r4/app@${layer.digest} at ${REACHED} of ${layer.size}`)
    const query = new URL(entry.location).searchParams.get('_state')
    expect(query?.length).toBeGreaterThan(20)
    expect(log.lines.join('\n')).not.toContain(query)
    expect(log.lines.join('\n')).not.toContain('_state')
    expect((await stat(journalPath)).mode & 0o777).toBe(0o600)
  })

  it('maps the registry refusing a resumed blob (DIGEST_INVALID) to DIGEST_MISMATCH naming the blob', async () => {
    const client = new RegistryClient(chunked)
    const repo = client.repository({ registry: dst.host, repository: 'r5/app' })
    const data = randomBytes(3 * MiB + 100)
    const desc = { mediaType: MediaType.ociLayer, digest: digestOf(data), size: data.length }
    let last: UploadSession | undefined
    dst.setRule(diesAfterPatches('r5/app', 2))
    await expect(
      repo.pushBlob(desc, Readable.from([data]), { onSession: (s) => (last = s) }),
    ).rejects.toMatchObject({ code: 'NETWORK' })
    dst.setRule(undefined)
    expect(last?.offset).toBe(2 * MiB)

    const session = await repo.resumeOffset(desc, last!.location)
    expect(session).toEqual({ location: last!.location, offset: 2 * MiB })
    const wrong = Buffer.from(data.subarray(2 * MiB))
    wrong[0] = wrong[0]! ^ 0xff
    await expect(
      repo.pushBlobFrom(desc, session!.location, session!.offset, Readable.from([wrong])),
    ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining(desc.digest) })
    expect(await repo.hasBlob(desc)).toBe(false)
    // distribution drops a session whose commit it refused.
    expect(await repo.resumeOffset(desc, session!.location)).toBeUndefined()
    await client.close()
  })

  it('refuses a resumed body of the wrong length before committing', async () => {
    const client = new RegistryClient(chunked)
    const repo = client.repository({ registry: dst.host, repository: 'r6/app' })
    const data = randomBytes(3 * MiB)
    const desc = { mediaType: MediaType.ociLayer, digest: digestOf(data), size: data.length }
    let last: UploadSession | undefined
    dst.setRule(diesAfterPatches('r6/app', 1))
    await expect(
      repo.pushBlob(desc, Readable.from([data]), { onSession: (s) => (last = s) }),
    ).rejects.toMatchObject({ code: 'NETWORK' })
    dst.setRule(undefined)
    const mark = dst.seen.length
    await expect(
      repo.pushBlobFrom(desc, last!.location, MiB, Readable.from([data.subarray(MiB, 2 * MiB + 10)])),
    ).rejects.toMatchObject({ code: 'SIZE_INVALID' })
    expect(dst.seen.slice(mark).filter((r) => r.method === 'PUT')).toHaveLength(0)
    expect(await repo.hasBlob(desc)).toBe(false)
    await client.close()
  })
})

describe('upload journal', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-journal-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('lives under XDG_STATE_HOME when it is absolute, else ~/.local/state', () => {
    expect(defaultJournalPath({ XDG_STATE_HOME: '/var/state' }, '/home/u')).toBe(
      '/var/state/ferry/uploads.json',
    )
    expect(defaultJournalPath({ XDG_STATE_HOME: 'rel' }, '/home/u')).toBe(
      '/home/u/.local/state/ferry/uploads.json',
    )
    expect(defaultJournalPath({}, '/home/u')).toBe('/home/u/.local/state/ferry/uploads.json')
  })

  it('drops entries older than a week', async () => {
    const path = join(dir, 'age', 'uploads.json')
    let now = Date.parse('2025-01-01T00:00:00Z')
    const day = 24 * 60 * 60 * 1000
    const journal = new UploadJournal(path, { now: () => now })
    const session = { location: 'http://reg.test/v2/app/blobs/uploads/u?_state=s', size: 10 }
    journal.record('reg.test/app', 'sha256:aa', { ...session, offset: 4 })
    journal.record('reg.test/app', 'sha256:bb', { ...session, offset: 4 })
    await journal.settled()
    now += 6 * day
    journal.record('reg.test/app', 'sha256:bb', { ...session, offset: 8 })
    await journal.settled()
    now += 2 * day
    const later = new UploadJournal(path, { now: () => now })
    expect(await later.get('reg.test/app', 'sha256:aa')).toBeUndefined()
    expect(await later.get('reg.test/app', 'sha256:bb')).toMatchObject({ offset: 8, size: 10 })
  })

  it('keeps every entry when 30 concurrent copies each record an upload (one queue per file in a process)', async () => {
    const path = join(dir, 'many', 'uploads.json')
    const log = captureLogger()
    // sync runs its copies at once, and each copy opens the default journal: 30 journals, one file.
    const journals = Array.from({ length: 30 }, () => new UploadJournal(path, { logger: log }))
    journals.forEach((j, i) => {
      j.record('reg.test/app', `sha256:${i}`, {
        location: `http://reg.test/v2/app/blobs/uploads/${i}`,
        offset: i,
        size: 100,
      })
    })
    await Promise.all(journals.map((j) => j.settled()))
    journals[7]!.forget('reg.test/app', 'sha256:7')
    journals[8]!.record('reg.test/app', 'sha256:30', {
      location: 'http://reg.test/v2/app/blobs/uploads/30',
      offset: 1,
      size: 100,
    })
    await Promise.all(journals.map((j) => j.settled()))
    const file = JSON.parse(await readFile(path, 'utf8'))
    const expected = [...Array.from({ length: 31 }, (_, i) => `reg.test/app@sha256:${i}`)].filter(
      (k) => !k.endsWith(':7'),
    )
    expect(Object.keys(file.uploads).sort()).toEqual(expected.sort())
    expect(log.lines).toEqual([])
  })

  it('keeps every entry when three processes write the journal at once', async () => {
    const path = join(dir, 'procs', 'uploads.json')
    const script = join(dir, 'writer.mts')
    const module = join(process.cwd(), 'src/copy/upload-journal.ts')
    await writeFile(
      script,
      `import { UploadJournal } from ${JSON.stringify(module)}
const [path, who] = process.argv.slice(2)
const journals = Array.from({ length: 10 }, () => new UploadJournal(path))
journals.forEach((j, i) => j.record('reg.test/app', \`sha256:\${who}-\${i}\`, { location: 'http://reg.test/v2/app/blobs/uploads/' + i, offset: i, size: 100 }))
await Promise.all(journals.map((j) => j.settled()))
`,
    )
    const tsx = join(process.cwd(), 'node_modules/.bin/tsx')
    await Promise.all(
      ['a', 'b', 'c'].map(
        (who) =>
          new Promise<void>((resolve, reject) =>
            execFile(tsx, [script, path, who], (err) => (err ? reject(err) : resolve())),
          ),
      ),
    )
    const file = JSON.parse(await readFile(path, 'utf8'))
    expect(Object.keys(file.uploads)).toHaveLength(30)
    for (const who of ['a', 'b', 'c'])
      for (let i = 0; i < 10; i++)
        expect(file.uploads[`reg.test/app@sha256:${who}-${i}`]).toMatchObject({ offset: i })
  })
})
