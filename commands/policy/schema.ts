import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { policyJsonSchema } from '../../src/policy/index.js'

export default class PolicySchema extends FerryCommand<typeof PolicySchema> {
  static override summary = 'Print the JSON Schema of ferry.policy.yaml, for editors and CI linters.'
  static override description =
    'With the yaml-language-server (VS Code, Neovim, JetBrains), put\n' +
    '  # yaml-language-server: $schema=./ferry.policy.schema.json\n' +
    'at the top of the policy file to get completion and errors while typing.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = 'object'

  static override examples = ['<%= config.bin %> policy schema > ferry.policy.schema.json']

  async run() {
    const schema = policyJsonSchema()
    // The schema is the output either way: --json changes nothing but the indentation.
    if (!this.jsonEnabled()) process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`)
    return schema
  }
}
