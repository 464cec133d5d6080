import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { promptSecret, readSecretFromStdin } from '../cli/prompt.js'
import { FerryError } from '../src/errors.js'
import type { RegistryHost } from '../src/reference/index.js'
import { login } from '../src/registry/index.js'

export default class Login extends FerryCommand<typeof Login> {
  static override summary =
    'Log in to a registry and store the credentials in the docker config (or --authfile).'
  static override description =
    'Checks the credentials against the registry first, then writes them to --authfile FILE when given, else ' +
    'to $REGISTRY_AUTH_FILE when set (as podman does), else to $DOCKER_CONFIG/config.json (default ' +
    '~/.docker/config.json); a credential helper that file configures (credsStore, credHelpers) gets the ' +
    'secret instead, as with docker. HOST may be written https://HOST[:PORT].'
  static override examples = [
    'echo "$REGISTRY_PASSWORD" | <%= config.bin %> login reg.local:5000 -u ci --password-stdin',
    '<%= config.bin %> login ghcr.io -u octocat   # prompts for the password',
    'echo "$PW" | <%= config.bin %> login reg.local:5000 -u ci --password-stdin --authfile ./auth.json',
  ]
  static override registryArgs = { registry: 'host' } as const
  static override args = { registry: Args.string({ required: true, description: 'HOST[:PORT]' }) }
  static override flags = {
    username: Flags.string({ char: 'u', required: true, description: 'User name.' }),
    'password-stdin': Flags.boolean({ description: 'Read the password (or token) from standard input.' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { registry: 'string', username: 'string' }

  async run() {
    if (this.flags.creds || this.flags['creds-stdin']) {
      throw new FerryError('USAGE', 'login takes -u USER and --password-stdin (or a prompt), not --creds')
    }
    if (!this.flags['password-stdin'] && !process.stdin.isTTY) {
      throw new FerryError(
        'USAGE',
        `login to ${(this.parsedArg('registry') as RegistryHost).registry}: no terminal to type the password at; pipe it in with --password-stdin`,
      )
    }
    const password = this.flags['password-stdin']
      ? await readSecretFromStdin()
      : await promptSecret('Password: ')
    if (!password) throw new FerryError('USAGE', 'empty password')
    const host = this.parsedArg('registry') as RegistryHost
    await login(this.context.client, host, this.flags.username, password, { authFile: this.flags.authfile })
    this.note(`Login succeeded: ${host.registry}`)
    return { registry: host.registry, username: this.flags.username }
  }
}
