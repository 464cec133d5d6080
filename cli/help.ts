import { type Command, CommandHelp, Help } from '@oclif/core'
import { type JsonShape, renderShape } from './json-shape.js'

/**
 * oclif's help plus a JSON OUTPUT section for commands that declare `static jsonOutput`, so scripts can
 * rely on the --json document's shape. Registered as `oclif.helpClass` in package.json; the shape is
 * read from the manifest, so showing it loads no command.
 */
class FerryCommandHelp extends CommandHelp {
  protected override sections(): ReturnType<CommandHelp['sections']> {
    const shape = (this.command as Command.Loadable & { jsonOutput?: JsonShape }).jsonOutput
    const sections = super.sections()
    if (!shape) return sections
    const json = {
      header: 'JSON OUTPUT',
      generate: () =>
        'With --json, stdout is one JSON document of this shape ("key"? may be absent). On failure it is ' +
        '{"error": {"code": string, "message": string}} (with "status", "registryCodes" and "side" when a ' +
        "registry answered, or a copy knows which side failed), and the exit code is the error's.\n\n" +
        renderShape(shape),
    }
    const examples = sections.findIndex((s) => s.header === 'EXAMPLES')
    return examples === -1
      ? [...sections, json]
      : [...sections.slice(0, examples), json, ...sections.slice(examples)]
  }
}

export default class FerryHelp extends Help {
  protected override getCommandHelpClass(command: Command.Loadable): CommandHelp {
    return new FerryCommandHelp(command, this.config, this.opts)
  }
}
