import { resolve } from 'node:path'
import { Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import { type Logger, redact } from '../src/log.js'
import { startServer } from '../src/serve/index.js'

export default class Serve extends FerryCommand<typeof Serve> {
  static override summary = 'Serve an OCI layout directory as an OCI distribution registry.'
  static override description =
    'Every repository lives in the one OCI image layout at --root and shares its blob store: tag TAG of ' +
    'repository REPO is the index.json entry whose org.opencontainers.image.ref.name is "REPO:TAG" ' +
    '(so `skopeo copy oci:ROOT:REPO:TAG …` reads the same image), and manifests pushed by digest only ' +
    'carry the annotation io.ferry.repository=REPO. Blobs are addressed by digest from any repository; ' +
    'deleting a manifest or tag edits index.json and never removes blobs. Unfinished uploads wait in ' +
    'ROOT/.uploads and are removed when they time out and at shutdown.\n\n' +
    'Binds 127.0.0.1 by default. Listening on another address without both --tls-cert/--tls-key and ' +
    '--htpasswd prints a warning: anyone who can reach the port can then read (and, without --read-only, ' +
    'write) every repository. --read-only answers every write with 405 UNSUPPORTED. Runs until SIGINT or ' +
    'SIGTERM, then lets running requests finish for up to 10 seconds. --debug logs one line per request ' +
    '(method, path, status, time; never credentials).'
  static override examples = [
    '<%= config.bin %> serve --root ./registry',
    '<%= config.bin %> serve --root ./mirror --port 5001 --read-only',
    '<%= config.bin %> serve --root /srv/oci --address 0.0.0.0 --port 5443 --tls-cert cert.pem --tls-key key.pem --htpasswd htpasswd',
    {
      description: 'Push to it and pull from it with any registry client, e.g. skopeo:',
      command: 'skopeo copy --all --dest-tls-verify=false oci:./app:1.0 docker://127.0.0.1:5000/team/app:1.0',
    },
  ]
  // The command prints one status line and runs until stopped; there is no result to print as JSON.
  static override enableJsonFlag = false
  static override flags = {
    root: Flags.string({
      required: true,
      description: 'OCI image layout directory to serve (created if missing).',
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
      description: 'PEM certificate (chain) file; serves HTTPS.',
      dependsOn: ['tls-key'],
    }),
    'tls-key': Flags.string({ description: 'PEM private key file for --tls-cert.', dependsOn: ['tls-cert'] }),
    htpasswd: Flags.string({
      description: 'htpasswd file of bcrypt entries (htpasswd -B); requires Basic auth.',
    }),
  }

  async run(): Promise<void> {
    const { flags } = this
    const server = await startServer({
      root: flags.root,
      address: flags.address,
      port: flags.port,
      readOnly: flags['read-only'],
      tls:
        flags['tls-cert'] && flags['tls-key']
          ? { cert: flags['tls-cert'], key: flags['tls-key'] }
          : undefined,
      htpasswd: flags.htpasswd,
      logger: this.serveLogger(),
    })
    this.note(`ferry serve: listening on ${server.url} (root ${resolve(flags.root)})`)
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    this.note(`ferry serve: ${signal}, shutting down`)
    await server.close()
  }

  /** Warnings always reach stderr (an exposed registry must not go unnoticed); request lines with --debug. */
  private serveLogger(): Logger {
    const debug = this.flags.debug
    return {
      debug: (m) => {
        if (debug) process.stderr.write(`debug: ${redact(m)}\n`)
      },
      warn: (m) => process.stderr.write(`ferry serve: warning: ${redact(m)}\n`),
    }
  }
}
