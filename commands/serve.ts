import { createWriteStream, openSync, type WriteStream } from 'node:fs'
import { resolve } from 'node:path'
import { Flags } from '@oclif/core'
import { repeatable } from '../cli/args.js'
import { FerryCommand } from '../cli/base-command.js'
import { bundleSignatureWords } from '../cli/format.js'
import { renderGc } from '../cli/gc-render.js'
import { SIGNING_KEY_HELP, withSigner } from '../cli/signing-key.js'
import { FerryError } from '../src/errors.js'
import { type Logger, redact, terminalSafe } from '../src/log.js'
import { isAttachmentTag } from '../src/reference/grammar.js'
import { type RunningServer, type ServeGcOptions, startServer } from '../src/serve/index.js'
import { parseDuration, parseSize, parseUpstream } from '../src/serve/upstream/upstreams.js'
import type { Signer } from '../src/sign/signer.js'

const TAGS_SHOWN = 6

export default class Serve extends FerryCommand<typeof Serve> {
  static override summary =
    'Serve an OCI layout directory, or an air-gap bundle read-only, as an OCI distribution registry.'
  static override description =
    'Every repository lives in the one OCI image layout at --root and shares its blob store: tag TAG of ' +
    'repository REPO is the index.json entry whose org.opencontainers.image.ref.name is "REPO:TAG" ' +
    '(so `skopeo copy oci:ROOT:REPO:TAG …` reads the same image), and manifests pushed by digest only ' +
    'carry the annotation io.ferry.repository=REPO. Tags without a repository (ref.name "TAG", what ' +
    '`skopeo copy … oci:ROOT:TAG` writes) are the repository named by --repository, by default the ' +
    'directory’s base name: `skopeo copy oci:./app:1.0 …` then serves HOST:PORT/app:1.0, and pushes to ' +
    'that name write such tags. A blob is served through a repository whose manifests use it, or that it was ' +
    'uploaded or mounted into (spec: BLOB_UNKNOWN elsewhere); ' +
    'deleting a manifest or tag edits index.json and never removes blobs: a repository whose last manifest ' +
    'is deleted lists no tags (200) and still serves its blobs until the server restarts. --gc-interval 24h ' +
    'frees the space of what nothing references any more, as `ferry gc` does, between the server’s own writes: ' +
    'unreachable manifests and blobs older than --gc-grace (1h), except what a client was told within that time ' +
    'is here (a blob HEAD, an upload or mount its next manifest may name); each run that frees something says ' +
    'what on stderr. Unfinished uploads wait in ' +
    'ROOT/.uploads and are removed when idle for --upload-session-ttl seconds (900) and at shutdown. At most ' +
    '--max-upload-sessions (1000) are open at once, and --max-upload-sessions-per-client (100) from one ' +
    'remote address; past them a POST answers 429 TOOMANYREQUESTS with Retry-After, and an expired session ' +
    'answers 404 BLOB_UPLOAD_UNKNOWN. At start, upload files and ingest/*.partial blobs a killed server left ' +
    'behind are removed.\n\n' +
    'Binds 127.0.0.1 by default. Listening on another address without both --tls-cert/--tls-key and ' +
    '--htpasswd prints a warning: anyone who can reach the port can then read (and, without --read-only, ' +
    'write) every repository. --read-only answers every write with 405 UNSUPPORTED. Runs until SIGINT or ' +
    'SIGTERM, then lets running requests finish for up to 10 seconds. --debug logs one line per request ' +
    '(method, path, status, time; never credentials).\n\n' +
    'Slow clients: request headers (and, with TLS, the handshake) must arrive within --header-timeout seconds (30) and a whole request ' +
    'within --request-timeout (default none: a large layer may take hours); a connection silent for ' +
    '--idle-timeout seconds (60), or whose body delivers under 1 KiB in that time, is closed. A failed ' +
    'write (disk full: 507; out of file descriptors: 503) fails only that request; 5xx answers carry only ' +
    'their code, the details go to stderr. With --htpasswd, one password check runs at a time and 8 wait; ' +
    'more answer 429 TOOMANYREQUESTS, and verified credentials are remembered for 5 minutes.\n\n' +
    '--bundle FILE serves a bundle from `ferry bundle create` where it lies (a USB disk, say), read-only and ' +
    'without unpacking or copying it. FILE may be a split bundle (FILE.000 or FILE.parts.json). Before ' +
    'listening, one pass reads the whole bundle and verifies every blob’s size and digest, the layout and ' +
    'the metadata (and, with --key NAME.pub, the bundle’s signature); any failure refuses to start. Blobs ' +
    'are then read at their offsets inside the tar. Repositories are the bundle’s source names: ' +
    'docker.io/library/postgres:16 is pulled as HOST:PORT/docker.io/library/postgres:16, with signatures, ' +
    'SBOMs (referrers API and cosign tags) and the other images as they were bundled. A source registry ' +
    'with a port, which no repository name may hold, is written with `_`: registry.intra:5000/acme/web is ' +
    'HOST:PORT/registry.intra_5000/acme/web. Every push and delete answers 405 UNSUPPORTED. If the file ' +
    'changes while served, requests answer 503 until the server is restarted (and verifies it again).\n\n' +
    '--upstream URL (with --root) makes it a pull-through cache of that registry: pulls only, every write ' +
    'answers 405 UNSUPPORTED. Manifests and blobs are stored in ROOT as they pass and served from there ' +
    'by digest without asking upstream; a tag is served locally for --upstream-ttl, then revalidated with a ' +
    'HEAD (a GET only when its digest changed); when upstream is down or answers 429/5xx the cached mapping ' +
    'is served and a warning says it is stale. Each blob is fetched from upstream once however many clients ' +
    'ask for it at once, and verified before it is stored; what upstream gets wrong (content that does not ' +
    'match its digest or size, an oversize manifest, a refused login) answers 502. Repeat --upstream ' +
    'NAME=URL for several upstreams: containerd’s ?ns=NAME picks one, other clients get the first. Credentials for upstream come from the ' +
    'docker config: every client of the mirror can read what those credentials can. They go only to a token ' +
    'realm in upstream’s domain, or one allowed with --allow-token-realm HOST[:PORT]. Referrers are upstream’s, ' +
    'filtered by ?artifactType= (OCI-Filters-Applied). ROOT/index.json lists every cached tag as ' +
    'UPSTREAM/REPOSITORY:TAG (e.g. docker.io/library/nginx:1.27), so skopeo oci:ROOT:NAME and umoci read the ' +
    'cache as a layout. --cache-max-size and ' +
    '--cache-max-age evict least recently pulled content first, never a blob a cached manifest references ' +
    'or one a client is reading, nor a manifest served in the last 5 minutes (a pull in progress).\n\n' +
    '--policy FILE (a ferry.policy.yaml, as promote and tag read it) is enforced in the registry, whoever the ' +
    'client is (skopeo, podman, crane, docker, ferry). A manifest PUT under a tag is judged by the rules ' +
    'promote and tag apply: naming, tags.forbid, tags.semver, immutable (a tag never moves; the same digest ' +
    'again is a no-op) and the required labels, read from the config the client pushed first (for an index, ' +
    'from its platform images); a push by digest by naming alone. What attaches to a release is always ' +
    'accepted: manifests with a subject, cosign’s sha256-HEX.sig/.att/.sbom tags and the sha256-HEX referrers ' +
    'tag, unless they carry file-system layers. A DELETE of an immutable tag, or of a manifest one needs, is ' +
    'refused. In an environment that requires a signature (and an SBOM), a manifest GET by tag, or by digest ' +
    'unless it is an attachment or a platform image of an index that verifies, is served only when it ' +
    'verifies offline with one of the environment’s keys (for --upstream, against what the cache pulls ' +
    'through); a HEAD is answered (it carries the digest that signing after the push needs, and no manifest). ' +
    'Keys are judged as policy check judges them: a signature by a key in trust.revoked, or outside its ' +
    'notBefore/notAfter window, does not open the gate; a cached verdict is made again when a window opens or ' +
    'closes. A ' +
    'refusal answers 403 DENIED naming the rule, its environment and why; warn-mode failures are logged. ' +
    'The policy’s repository globs are matched against NAME/REPO for each --name HOST[:PORT] the registry ' +
    'goes by (default: the listen address and localhost:PORT); a rule holds whichever name a client used. ' +
    'SIGHUP reads the file again; a file that does not load keeps the previous policy and logs why. ' +
    '--read-only still refuses every write with 405.\n\n' +
    'The web UI at /ui/ (on unless --no-ui; / leads there) shows, read-only and behind the same --htpasswd ' +
    'and TLS: the repositories (filter, paged), each one’s tags (digest, platforms, size, created; with ' +
    '--policy the environment and whether a pull passes the gate), and each image: manifest, layers, labels, ' +
    'history, platforms, its signatures checked against the policy’s keys (by fingerprint), SBOMs with ' +
    'package and licence counts and a download, a pinned REGISTRY/REPO:TAG@DIGEST to copy, and with ' +
    '--ledger FILE the tag’s ledger history (what serve records there, and promote and tag if they share it); with --upstream, the cache’s hits, misses, traffic and each ' +
    'cached tag’s staleness. /metrics answers Prometheus text (requests by method, route and status, bytes, ' +
    'upload sessions, the cache’s and the policy’s counters), behind --htpasswd unless --metrics-public. ' +
    'One access log line per request goes to stderr (or --access-log FILE), in --access-log-format common ' +
    '(NCSA combined, plus duration and digest) or json; never a credential, and of the query only ' +
    'parameters that hold no secret (n, last, digest, mount, from, artifactType, ns; the UI’s q, after, tag); ' +
    '--no-access-log ' +
    'turns it off.\n\n' +
    '--ledger FILE (default: the policy file’s `ledger:`) appends one hash-chained JSON line per manifest PUT or ' +
    'DELETE it accepts or the policy refuses, and per pull the policy refuses, naming the client as actor (the ' +
    'htpasswd user, else anonymous, and the remote address). Parallel requests are recorded one at a time, so ' +
    'the chain holds (`ferry ledger verify FILE`). --ledger-key KEY appends a signed checkpoint every 100 ' +
    'records, 5 minutes after the first record none covers, and at shutdown (see `ferry ledger checkpoint`).'
  static override examples = [
    {
      description: 'A pull-through cache of Docker Hub (point daemon.json "registry-mirrors" at it):',
      command:
        '<%= config.bin %> serve --root /srv/mirror --upstream https://registry-1.docker.io --upstream-ttl 5m --cache-max-size 50G',
    },
    '<%= config.bin %> serve --root ./registry',
    '<%= config.bin %> serve --root ./mirror --port 5001 --read-only',
    '<%= config.bin %> serve --bundle /media/usb/site-2024.06.tar --key release.pub --address 0.0.0.0 --port 5000',
    '<%= config.bin %> serve --root /srv/oci --address 0.0.0.0 --port 5443 --tls-cert cert.pem --tls-key key.pem --htpasswd htpasswd',
    {
      description:
        'Exposed to untrusted clients: headers within 10 s, whole requests within 2 hours, and cut connections silent (or trickling) for 30 s:',
      command:
        '<%= config.bin %> serve --root /srv/oci --address 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --htpasswd htpasswd --header-timeout 10 --request-timeout 7200 --idle-timeout 30',
    },
    {
      description: 'Push to it and pull from it with any registry client, e.g. skopeo:',
      command: 'skopeo copy --all --dest-tls-verify=false oci:./app:1.0 docker://127.0.0.1:5000/team/app:1.0',
    },
    {
      description:
        'Serve a layout skopeo wrote (`skopeo copy docker://… oci:./app:1.0`) as repository team/app:',
      command: '<%= config.bin %> serve --root ./app --repository team/app',
    },
    {
      description:
        'Enforce the governance policy on every client; release tags never move, prod pulls need a signature:',
      command:
        '<%= config.bin %> serve --root /srv/oci --address 0.0.0.0 --tls-cert cert.pem --tls-key key.pem --htpasswd htpasswd --policy /etc/ferry/ferry.policy.yaml --name registry.intra',
    },
    {
      description: 'Record who pushed, deleted or was refused what, with signed checkpoints:',
      command:
        '<%= config.bin %> serve --root /srv/oci --htpasswd htpasswd --policy ferry.policy.yaml --ledger /var/lib/ferry/registry.jsonl --ledger-key ledger.key',
    },
    {
      description:
        'Free the space of deleted images once a day (what nothing references, written over an hour ago):',
      command: '<%= config.bin %> serve --root /srv/oci --gc-interval 24h',
    },
    {
      description:
        'The UI with the ledger’s history of each tag, metrics for an unauthenticated Prometheus, JSON access log to a file:',
      command:
        '<%= config.bin %> serve --root /srv/oci --htpasswd htpasswd --policy ferry.policy.yaml --ledger /srv/ledger.jsonl --metrics-public --access-log /var/log/ferry-access.log --access-log-format json',
    },
    {
      description: 'After editing the policy file, apply it without a restart:',
      command: 'kill -HUP <pid of ferry serve>',
    },
    {
      description: 'Pull an image of a served bundle under its source name:',
      command:
        'skopeo copy --all --src-tls-verify=false docker://127.0.0.1:5000/docker.io/library/postgres:16 oci:./pg:16',
    },
  ]
  // The command prints one status line and runs until stopped; there is no result to print as JSON.
  static override enableJsonFlag = false
  static override flags = {
    root: Flags.string({
      description: 'OCI image layout directory to serve (created if missing).',
      exactlyOne: ['root', 'bundle'],
    }),
    bundle: Flags.string({
      description: 'Bundle file to serve read-only (FILE.tar, FILE.000 or FILE.parts.json), verified first.',
      exactlyOne: ['root', 'bundle'],
    }),
    repository: Flags.string({
      description:
        'Repository name for tags without one (skopeo’s oci:DIR:TAG); default: the --root directory’s base name.',
      dependsOn: ['root'],
    }),
    key: Flags.string({
      description: 'Public key (NAME.pub) the bundle must be signed with; refuses to start otherwise.',
      dependsOn: ['bundle'],
    }),
    address: Flags.string({ default: '127.0.0.1', description: 'Address to listen on.' }),
    port: Flags.integer({
      default: 5000,
      min: 0,
      max: 65535,
      description: 'Port to listen on (0: any free port).',
    }),
    'read-only': Flags.boolean({ description: 'Refuse every push and delete (405 UNSUPPORTED).' }),
    'tls-cert': Flags.string({
      description:
        'PEM certificate (chain) file; serves HTTPS (plain HTTP to the port gets 400 "Client sent an HTTP request to an HTTPS server.").',
      dependsOn: ['tls-key'],
    }),
    'tls-key': Flags.string({ description: 'PEM private key file for --tls-cert.', dependsOn: ['tls-cert'] }),
    htpasswd: Flags.string({
      description: 'htpasswd file of bcrypt entries (htpasswd -B); requires Basic auth.',
    }),
    'header-timeout': Flags.integer({
      default: 30,
      min: 1,
      description: 'Seconds a client may take to send a request line and headers (408 after).',
    }),
    'request-timeout': Flags.integer({
      default: 0,
      min: 0,
      description: 'Seconds a client may take to send a whole request, body included (0: no limit).',
    }),
    upstream: Flags.string({
      description:
        'Serve as a pull-through cache of this registry: URL, or NAME=URL (repeatable; ?ns=NAME picks one).',
      multiple: true,
      multipleNonGreedy: true,
      dependsOn: ['root'],
    }),
    'upstream-ttl': Flags.string({
      default: '5m',
      description:
        'With --upstream: how long a cached tag is served before upstream is asked again (by HEAD).',
    }),
    'upstream-insecure': Flags.boolean({
      description: 'Reach upstream over plain HTTP or TLS without verification.',
      dependsOn: ['upstream'],
    }),
    'cache-max-size': Flags.string({
      description: 'Evict least recently pulled content above this size (e.g. 50G).',
      dependsOn: ['upstream'],
    }),
    'cache-max-age': Flags.string({
      description: 'Evict content nobody pulled for this long (e.g. 30d).',
      dependsOn: ['upstream'],
    }),
    'idle-timeout': Flags.integer({
      default: 60,
      min: 0,
      description:
        'Seconds of silence after which a connection is closed; a body sending under 1 KiB in that time is cut off (0: never).',
    }),
    'max-upload-sessions': Flags.integer({
      default: 1000,
      min: 1,
      description: 'Blob upload sessions open at once, in all (429 TOOMANYREQUESTS past it).',
    }),
    'max-upload-sessions-per-client': Flags.integer({
      default: 100,
      min: 1,
      description: 'Blob upload sessions open at once from one remote address (429 TOOMANYREQUESTS past it).',
    }),
    policy: Flags.string({
      description:
        'Policy file (ferry.policy.yaml) enforced on every push, delete and pull, whatever the client; SIGHUP reloads it.',
    }),
    ledger: Flags.string({
      description:
        'Append one hash-chained JSON line per manifest write or delete accepted or refused, and per refused pull; the UI shows each tag’s records (default: the policy file’s ledger:).',
    }),
    'ledger-key': Flags.string({
      description: `Sign checkpoints of the ledger with this key. ${SIGNING_KEY_HELP}`,
    }),
    name: Flags.string({
      description:
        'HOST[:PORT] clients reach this registry by: the UI’s pinned references use the first, the policy’s repository globs and ledger records match any (repeatable; default: the listen address and localhost:PORT).',
      ...repeatable,
    }),
    'gc-interval': Flags.string({
      description:
        'Collect garbage in --root this often (e.g. 1h, 24h): unreachable manifests and blobs go, as with ferry gc.',
      dependsOn: ['root'],
    }),
    'gc-grace': Flags.string({
      description:
        'With --gc-interval: keep unreachable files written, or found by a client, within this time (default 1h).',
      dependsOn: ['gc-interval'],
    }),
    ui: Flags.boolean({
      default: true,
      allowNo: true,
      description: 'Serve the read-only web UI at /ui/ (--no-ui: the registry API only).',
    }),
    'metrics-public': Flags.boolean({
      description: 'Answer /metrics without credentials, even with --htpasswd.',
    }),
    'access-log': Flags.string({
      description:
        'Append the access log to this file instead of stderr (on by default; see --no-access-log).',
    }),
    'access-log-format': Flags.string({
      default: 'common',
      options: ['common', 'json'],
      description: 'Access log lines: common (NCSA combined, plus duration and digest) or json.',
    }),
    'no-access-log': Flags.boolean({
      description: 'Write no access log (by default one line per request goes to stderr).',
      exclusive: ['access-log'],
    }),
    'upload-session-ttl': Flags.integer({
      default: 900,
      min: 1,
      description: 'Seconds an idle upload session lives; then it and its data are removed.',
    }),
  }

  async run(): Promise<void> {
    // A token session (pkcs11:) stays open while the server runs: it signs each checkpoint.
    await withSigner(
      this.flags['ledger-key'],
      (l) => this.note(l),
      (signer) => this.serve(signer),
    )
  }

  private async serve(signer: Signer | undefined): Promise<void> {
    const { flags } = this
    const publicKey = flags.key ? await loadPublicKey(flags.key) : undefined
    const accessFile = flags['access-log'] ? openAccessLog(flags['access-log']) : undefined
    const writeAccess = accessFile
      ? (line: string) => accessFile.write(`${line}\n`)
      : (line: string) => process.stderr.write(`${line}\n`)
    const server = await startServer({
      root: flags.root,
      bundle: flags.bundle,
      repository: flags.repository,
      publicKey,
      progress: this.context.progress,
      address: flags.address,
      port: flags.port,
      readOnly: flags['read-only'],
      tls:
        flags['tls-cert'] && flags['tls-key']
          ? { cert: flags['tls-cert'], key: flags['tls-key'] }
          : undefined,
      htpasswd: flags.htpasswd,
      timeouts: {
        headersMs: flags['header-timeout'] * 1000,
        requestMs: flags['request-timeout'] * 1000,
        idleMs: flags['idle-timeout'] * 1000,
      },
      uploadTimeoutMs: flags['upload-session-ttl'] * 1000,
      maxUploadSessions: flags['max-upload-sessions'],
      maxUploadSessionsPerClient: flags['max-upload-sessions-per-client'],
      logger: this.serveLogger(),
      upstream: flags.upstream?.length
        ? {
            upstreams: flags.upstream.map(parseUpstream),
            ttlMs: parseDuration(flags['upstream-ttl'], '--upstream-ttl'),
            insecure: flags['upstream-insecure'],
            allowTokenRealms: this.allowedTokenRealms,
            limits: {
              maxBytes: flags['cache-max-size']
                ? parseSize(flags['cache-max-size'], '--cache-max-size')
                : undefined,
              maxAgeMs: flags['cache-max-age']
                ? parseDuration(flags['cache-max-age'], '--cache-max-age')
                : undefined,
            },
          }
        : undefined,
      policy: flags.policy ? { file: flags.policy } : undefined,
      ledgerRecords: { ...(signer ? { signer } : {}), ferryVersion: this.config.version },
      gc: flags['gc-interval'] ? this.gcOptions(flags['gc-interval'], flags['gc-grace'] ?? '1h') : undefined,
      names: flags.name,
      ui: flags.ui,
      ledger: flags.ledger,
      metricsPublic: flags['metrics-public'],
      accessLog: flags['no-access-log']
        ? undefined
        : { format: flags['access-log-format'] as 'common' | 'json', write: writeAccess },
    })
    if (flags.upstream?.length) {
      this.note(
        `ferry serve: listening on ${server.url} (pull-through cache of ${flags.upstream.join(', ')}, root ${resolve(flags.root!)})`,
      )
    } else if (flags.root) this.note(`ferry serve: listening on ${server.url} (root ${resolve(flags.root)})`)
    else this.note(describeBundle(server))
    const policy = server.policy
    if (policy) {
      this.note(
        `ferry serve: policy ${policy.file} enforced for ${policy.names.join(', ')} (SIGHUP reloads it)`,
      )
      process.on('SIGHUP', () => {
        void policy.reload().then((r) => {
          if (r.ok)
            this.note(`ferry serve: SIGHUP: policy ${policy.file} reloaded (${r.environments} environments)`)
        })
      })
    }
    if (server.ledger)
      this.note(`ferry serve: recording writes in ${server.ledger}${signer ? ' (signed checkpoints)' : ''}`)
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    this.note(`ferry serve: ${signal}, shutting down`)
    await server.close()
    if (accessFile) await new Promise((done) => accessFile.end(done))
  }

  /** --gc-interval: a line on stderr for each collection that freed something (with --debug, every one). */
  private gcOptions(interval: string, grace: string): ServeGcOptions {
    const intervalMs = parseDuration(interval, '--gc-interval')
    if (intervalMs === 0)
      throw new FerryError('USAGE', 'invalid --gc-interval "0": give a duration such as 1h')
    return {
      intervalMs,
      graceMs: parseDuration(grace, '--gc-grace'),
      onCollected: (result) => {
        if (result.freed.length === 0 && result.missing.length === 0 && !this.flags.debug) return
        for (const line of renderGc(result, grace, { perFile: this.flags.debug }))
          this.note(`ferry serve: gc: ${line}`)
      },
    }
  }

  /** Warnings always reach stderr (an exposed registry must not go unnoticed); request lines with --debug. */
  private serveLogger(): Logger {
    const debug = this.flags.debug
    return {
      debug: (m) => {
        if (debug) process.stderr.write(`debug: ${terminalSafe(redact(m))}\n`)
      },
      warn: (m) => process.stderr.write(`ferry serve: warning: ${terminalSafe(redact(m))}\n`),
    }
  }
}

function describeBundle(server: RunningServer): string {
  const b = server.bundle!
  const signature = bundleSignatureWords(b.signature)
  const lines = [
    `ferry serve: listening on ${server.url} (bundle ${resolve(b.file)}: ${b.name} ${b.version}, every blob verified, ${signature}, read-only)`,
  ]
  for (const repo of b.repositories) {
    // Attachment tags (cosign's, the referrers index): real tags, but noise in a list of what to pull.
    const tags = repo.tags.filter((t) => !isAttachmentTag(t))
    const shown = tags.slice(0, TAGS_SHOWN).join(', ')
    const more = tags.length > TAGS_SHOWN ? `, … (${tags.length - TAGS_SHOWN} more)` : ''
    lines.push(
      `  ${server.host}/${repo.name}${tags.length ? `  tags: ${shown}${more}` : '  (by digest only)'}`,
    )
  }
  return lines.join('\n')
}

/** The --access-log file, appended to; opened before the server starts, so a bad path refuses to start. */
function openAccessLog(path: string): WriteStream {
  let fd: number
  try {
    fd = openSync(path, 'a', 0o640)
  } catch (err) {
    throw new FerryError('USAGE', `--access-log ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`)
  }
  const stream = createWriteStream('', { fd })
  // A write that fails later (disk full) loses log lines, not requests.
  stream.on('error', (err) =>
    process.stderr.write(`ferry serve: warning: access log ${path}: ${err.message}\n`),
  )
  return stream
}

/** Loaded only with --key: the key files module brings the Sigstore libraries with it. */
async function loadPublicKey(path: string) {
  const keys = await import('../src/supply/key-files.js')
  return keys.loadPublicKey(path)
}
