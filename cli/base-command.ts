import { Command, Flags, type Interfaces } from '@oclif/core'
import { exitCodeFor, FerryError } from '../src/errors.js'
import { type Logger, redact, redactingLogger, silentLogger } from '../src/log.js'
import { repeatable, repeatableList } from './args.js'

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
        'Reach HOST[:PORT] over plain HTTP (loopback hosts always are). Repeatable, or comma-separated.',
      ...repeatableList,
      helpGroup: 'GLOBAL',
    }),
    'ca-file': Flags.string({
      description: 'Extra PEM CA bundle to trust for registry TLS. Repeatable.',
      ...repeatable,
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>
  protected args!: BaseArgs<T>
  /** Every positional argument, for commands that take any number of them (`static strict = false`). */
  protected positional!: string[]

  public override async init(): Promise<void> {
    await super.init()
    const { args, argv, flags } = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (super.ctor as typeof FerryCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as BaseArgs<T>
    this.positional = argv as string[]
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
      ? redactingLogger((line) => process.stderr.write(`debug: ${line}\n`))
      : silentLogger
  }

  /** Options every registry-facing library call takes. */
  protected get registryOptions() {
    return {
      insecure: this.flags['insecure-registry'] ?? [],
      caFiles: this.flags['ca-file'] ?? [],
      logger: this.logger,
    }
  }

  /** Human output to stdout, suppressed under --json (where the returned value is printed instead). */
  protected out(line: string): void {
    if (!this.jsonEnabled()) process.stdout.write(`${line}\n`)
  }

  /** Notes for humans go to stderr so stdout stays parseable. */
  protected note(line: string): void {
    process.stderr.write(`${line}\n`)
  }

  protected override async catch(
    err: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<unknown> {
    // oclif's own parse errors and explicit exits keep their behaviour.
    if (!(err instanceof FerryError)) {
      if (err.oclif || err.exitCode !== undefined) return super.catch(err)
    }
    const code = err instanceof FerryError ? err.code : 'INTERNAL'
    const message = redact(err.message)
    if (this.jsonEnabled()) {
      process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`)
    } else {
      process.stderr.write(`ferry: ${message}\n`)
      if (this.flags?.debug && err.stack && !(err instanceof FerryError))
        process.stderr.write(`${redact(err.stack)}\n`)
    }
    process.exitCode = exitCodeFor(err)
    return undefined
  }
}
