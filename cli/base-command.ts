import { stripVTControlCharacters } from 'node:util'
import { Command, Errors, Flags, type Interfaces } from '@oclif/core'
import { type Context, type ContextOptions, createContext } from '../src/context.js'
import { exitCodeFor, FerryError } from '../src/errors.js'
import {
  clipMiddle,
  jsonTerminalSafe,
  type Logger,
  redact,
  redactingLogger,
  redactKnownSecrets,
  silentLogger,
  terminalSafe,
} from '../src/log.js'
import type { Location } from '../src/reference/index.js'
import { DEFAULT_TRANSFER_LIMITS } from '../src/registry/index.js'
import { repeatable, repeatableList } from './args.js'
import { type ExplicitCredentials, parseCreds, readCredsFromStdin } from './creds.js'
import { progressBars } from './progress.js'
import { type ParsedArg, parseRegistryArg, type RegistryArgKind, registryOfArg } from './registry-args.js'

/** Errors are one line (a spec's list of problems: one per line); one that echoes a huge value is cut in the middle. */
const MAX_ERROR_LENGTH = 2000

/** A line (or lines) of human output: secrets this process holds redacted, controls escaped. */
const forTerminal = (text: string) => terminalSafe(redactKnownSecrets(text), { keepNewlines: true })

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof FerryCommand)['baseFlags'] & T['flags']
>
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

/**
 * Global flags, error rendering and exit codes for every ferry command. Commands parse, call one
 * library function, and render; failures become one line on stderr (or `{"error":…}` with --json)
 * and the exit code mapped from the error's code.
 */
export abstract class FerryCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    debug: Flags.boolean({
      description: 'Log requests and decisions to stderr (credentials are always redacted).',
      helpGroup: 'GLOBAL',
    }),
    'insecure-registry': Flags.string({
      description:
        'Reach HOST[:PORT] over plain HTTP. Repeatable, or comma-separated. (A loopback registry uses HTTPS when its port speaks TLS, else HTTP.)',
      ...repeatableList,
      helpGroup: 'GLOBAL',
    }),
    'plain-http': Flags.boolean({
      description:
        'Reach every registry over plain HTTP (a reference written https://HOST/… still uses HTTPS).',
      helpGroup: 'GLOBAL',
    }),
    'ca-file': Flags.string({
      description: 'Extra PEM CA bundle to trust for registry TLS. Repeatable.',
      ...repeatable,
      helpGroup: 'GLOBAL',
    }),
    creds: Flags.string({
      description:
        'USER:PASS for the registry the command names (before any auth file). Visible to `ps`: prefer --creds-stdin.',
      exclusive: ['creds-stdin'],
      helpGroup: 'GLOBAL',
    }),
    'creds-stdin': Flags.boolean({
      description: 'Read USER:PASS (one line) for the registry the command names from standard input.',
      helpGroup: 'GLOBAL',
    }),
    authfile: Flags.string({
      description:
        'Auth file (podman/docker `auths` JSON) searched first for credentials; `ferry login` writes to it.',
      helpGroup: 'GLOBAL',
    }),
    'allow-token-realm': Flags.string({
      description:
        'Let credentials go to the token realm on HOST[:PORT] (HOST: any port), besides the registry’s own host and domain. Repeatable, or comma-separated; FERRY_ALLOW_TOKEN_REALM adds more.',
      ...repeatableList,
      helpGroup: 'GLOBAL',
    }),
    'registry-idle-timeout': Flags.integer({
      description:
        'Seconds a registry may send nothing (no answer, or a stalled body) before the request fails.',
      env: 'FERRY_REGISTRY_IDLE_TIMEOUT',
      default: DEFAULT_TRANSFER_LIMITS.idleTimeoutMs / 1000,
      min: 1,
      helpGroup: 'GLOBAL',
    }),
    'registry-low-speed-limit': Flags.integer({
      description:
        'A download from a registry that delivers fewer bytes than this in --registry-low-speed-time seconds fails (0: no limit).',
      env: 'FERRY_REGISTRY_LOW_SPEED_LIMIT',
      default: DEFAULT_TRANSFER_LIMITS.lowSpeedBytes,
      min: 0,
      helpGroup: 'GLOBAL',
    }),
    'registry-low-speed-time': Flags.integer({
      description: 'The window, in seconds, of --registry-low-speed-limit.',
      env: 'FERRY_REGISTRY_LOW_SPEED_TIME',
      default: DEFAULT_TRANSFER_LIMITS.lowSpeedWindowMs / 1000,
      min: 1,
      helpGroup: 'GLOBAL',
    }),
  }

  /**
   * Arguments that name a registry (`host`: HOST[:PORT]) or an image on one or elsewhere
   * (`reference`). They are parsed once, by the location grammar, when the command starts: a bad one
   * fails then, and their registries are the ones --creds applies to. A scheme written in front
   * (`https://HOST/…`) stays in the parsed value and is how the client reaches that host.
   */
  static registryArgs: Record<string, RegistryArgKind> = {}

  /** The registry arguments, parsed. */
  private parsedArgs: Record<string, ParsedArg> = {}
  /** The registries the command's registry arguments name, in order, without repeats. */
  protected namedRegistries: string[] = []
  /** --creds / --creds-stdin, and a command's own (copy's --src-creds), by registry. */
  protected explicitCredentials: ExplicitCredentials = {}

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  /** Every positional argument, for commands that take several (`static strict = false`). */
  protected positionals!: string[]

  public override async init(): Promise<void> {
    await super.init()
    const { args, flags, argv } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof FerryCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.positionals = argv as string[]
    this.takeRegistryArgs()
    const creds = this.flags.creds
      ? parseCreds(this.flags.creds, '--creds')
      : this.flags['creds-stdin']
        ? await readCredsFromStdin()
        : undefined
    if (creds) this.credsFor(creds, this.namedRegistries, this.flags.creds ? '--creds' : '--creds-stdin')
  }

  private get registryArgKinds(): Record<string, RegistryArgKind> {
    return (this.ctor as unknown as typeof FerryCommand).registryArgs ?? {}
  }

  private takeRegistryArgs(): void {
    const args = this.args as Record<string, unknown>
    for (const [name, kind] of Object.entries(this.registryArgKinds)) {
      const value = args[name]
      if (typeof value !== 'string') continue
      const parsed = parseRegistryArg(value, kind)
      this.parsedArgs[name] = parsed
      const registry = registryOfArg(parsed)
      if (registry && !this.namedRegistries.includes(registry)) this.namedRegistries.push(registry)
    }
  }

  /** A registry argument as the location grammar parsed it (see `registryArgs`). */
  protected parsedArg(name: string): ParsedArg {
    const parsed = this.parsedArgs[name]
    if (!parsed) throw new FerryError('INTERNAL', `${name} is not a registry argument`)
    return parsed
  }

  /** A `reference` registry argument: an image or repository anywhere. */
  protected location(name: string): Location {
    const parsed = this.parsedArg(name)
    if (parsed.kind === 'host') throw new FerryError('INTERNAL', `${name} is a registry host argument`)
    return parsed
  }

  /** Records credentials for registries; refuses to send one secret to two registries. */
  protected credsFor(
    creds: { username: string; password: string },
    registries: readonly string[],
    flag: string,
  ): void {
    if (registries.length === 0) {
      throw new FerryError(
        'USAGE',
        `${flag} applies to the registry a command names, and ${this.config.bin} ${this.id?.replaceAll(':', ' ')} names none here: use --authfile or ferry login`,
      )
    }
    if (registries.length > 1) {
      throw new FerryError(
        'USAGE',
        `${flag} would send one password to ${registries.join(' and ')}: give each its own (copy: --src-creds, --dest-creds), or use --authfile`,
      )
    }
    for (const r of registries) {
      const before = this.explicitCredentials[r]
      if (before && (before.username !== creds.username || before.password !== creds.password)) {
        throw new FerryError('USAGE', `${flag}: ${r} was given other credentials already`)
      }
      this.explicitCredentials[r] = creds
    }
  }

  private controller: AbortController | undefined

  /**
   * Aborted on the first Ctrl-C or SIGTERM: transfers stop where they are (upload sessions stay in the
   * journal for a rerun) and the command exits 130. A second Ctrl-C exits at once.
   */
  protected get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController()
      const stop = () => {
        if (controller.signal.aborted) process.exit(130)
        controller.abort(new FerryError('ABORTED', 'interrupted'))
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      this.controller = controller
    }
    return this.controller.signal
  }

  /** The library's logger: `--debug` lines on stderr, always redacted. */
  protected get logger(): Logger {
    return this.flags.debug
      ? redactingLogger((line) => process.stderr.write(`debug: ${terminalSafe(line)}\n`))
      : silentLogger
  }

  /** --allow-token-realm and FERRY_ALLOW_TOKEN_REALM (comma-separated), together. */
  protected get allowedTokenRealms(): string[] {
    const fromEnv = (process.env.FERRY_ALLOW_TOKEN_REALM ?? '').split(',').map((h) => h.trim())
    return [...(this.flags['allow-token-realm'] ?? []), ...fromEnv.filter(Boolean)]
  }

  /**
   * Registry settings of this command besides the global flags (bundle import's upload chunk size), for
   * a command to override.
   */
  protected contextSettings(): Partial<ContextOptions> {
    return {}
  }

  /** Progress bars for the library's progress events: on a terminal, without --json (copy --quiet: none). */
  protected showsProgress(): boolean {
    return !this.jsonEnabled()
  }

  private built: Context | undefined
  private bars: ReturnType<typeof progressBars> | undefined

  /**
   * What every library call of this command takes, built once from the global flags (TLS, credentials,
   * token realms, limits, --debug) on first use: one registry client for all of it, closed when the
   * command ends; progress events drawn as bars. Its signal is Ctrl-C's, asked for only by operations
   * that listen.
   */
  protected get context(): Context {
    if (!this.built) {
      const command = this
      this.bars = progressBars(this.showsProgress())
      this.built = createContext({
        ...this.registryOptions,
        ...this.contextSettings(),
        get signal() {
          return command.signal
        },
        progress: this.bars.sink,
      })
    }
    return this.built
  }

  /** Takes the bars away and closes the context's client (its connections), whatever the outcome. */
  protected override async finally(err: Error | undefined): Promise<unknown> {
    this.bars?.stop()
    const built = this.built
    this.built = undefined
    await built?.close()
    return super.finally(err)
  }

  /** The registry settings of the global flags. */
  private get registryOptions() {
    return {
      insecure: this.flags['insecure-registry'] ?? [],
      plainHttp: this.flags['plain-http'],
      caFiles: this.flags['ca-file'] ?? [],
      allowTokenRealms: this.allowedTokenRealms,
      credentials: this.explicitCredentials,
      authFile: this.flags.authfile,
      logger: this.logger,
      limits: {
        idleTimeoutMs: this.flags['registry-idle-timeout'] * 1000,
        lowSpeedBytes: this.flags['registry-low-speed-limit'],
        lowSpeedWindowMs: this.flags['registry-low-speed-time'] * 1000,
      },
    }
  }

  /** Human output to stdout, suppressed under --json (where the returned value is printed instead). */
  protected out(line: string): void {
    this.bars?.stop()
    if (!this.jsonEnabled()) process.stdout.write(`${forTerminal(line)}\n`)
  }

  /** Notes for humans go to stderr so stdout stays parseable; progress bars end first. */
  protected note(line: string): void {
    this.bars?.stop()
    process.stderr.write(`${forTerminal(line)}\n`)
  }

  /** --json results: known secrets redacted, and no raw bidi or C1 characters (JSON escapes, same value). */
  public override logJson(json: unknown): void {
    process.stdout.write(`${jsonTerminalSafe(redactKnownSecrets(JSON.stringify(json, null, 2)))}\n`)
  }

  protected override async catch(
    err: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<unknown> {
    if (isUsageError(err)) {
      // Not oclif's rendering: under --json it dumps the whole parser state (~190 KB) on stdout, exit 1.
      process.stderr.write(
        `ferry: ${usageLine(err)} (see ${this.config.bin} ${this.id?.replaceAll(':', ' ')} --help)\n`,
      )
      process.exitCode = exitCodeFor(new FerryError('USAGE', err.message))
      // The parse did run (and failed): keeps oclif's "did not parse its arguments" warning away.
      this.parsed = true
      return undefined
    }
    // Explicit exits keep their behaviour.
    if (!(err instanceof FerryError)) {
      if (err.oclif || err.exitCode !== undefined) return super.catch(err)
    }
    const code = err instanceof FerryError ? err.code : 'INTERNAL'
    const message = clipMiddle(redact(err.message), MAX_ERROR_LENGTH)
    if (this.jsonEnabled()) {
      // What the error knows besides (status, registryCodes, side); code and message as rendered here.
      const known = err instanceof FerryError ? err.toJSON() : {}
      const error = { ...known, code, message }
      process.stdout.write(`${jsonTerminalSafe(redactKnownSecrets(JSON.stringify({ error }, null, 2)))}\n`)
    } else {
      process.stderr.write(`ferry: ${errorLines(message)}\n`)
      if (this.flags?.debug && err.stack && !(err instanceof FerryError))
        process.stderr.write(`${terminalSafe(redact(err.stack), { keepNewlines: true })}\n`)
    }
    process.exitCode = exitCodeFor(err)
    return undefined
  }
}

/**
 * An error for the terminal: controls escaped, but the lines of a message that has several (a spec with
 * two mistakes) kept as lines, each after the first indented so that none can pose as another
 * `ferry:` line.
 */
const errorLines = (message: string) => terminalSafe(message, { keepNewlines: true }).replaceAll('\n', '\n  ')

/** oclif's flag and argument errors: CLIErrors with its usage exit code 2 (an ExitError is a requested exit). */
function isUsageError(err: Error & { oclif?: { exit?: number } }): err is Errors.CLIError {
  return err instanceof Errors.CLIError && !(err instanceof Errors.ExitError) && err.oclif.exit === 2
}

/** oclif's multi-line parse message as one line: the reason, without its help pointers and notes. */
function usageLine(err: Errors.CLIError & { args?: { name?: string }[] }): string {
  const text = stripVTControlCharacters(err.message)
  if (text.startsWith('Missing') && err.args?.length) {
    const names = err.args.map((a) => a.name).filter(Boolean)
    return `missing required argument${names.length === 1 ? '' : 's'}: ${names.join(', ')}`
  }
  const lines: string[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line.startsWith('Note:')) break
    if (line && line !== 'See more help with --help') lines.push(line)
  }
  const [head = 'invalid usage', ...rest] = lines
  if (rest.length === 0) return head
  if (/^The following errors? occurred/.test(head)) return rest.join('; ')
  return `${head.replace(/:$/, '')}: ${rest.join('; ')}`
}
