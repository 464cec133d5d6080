import { Command } from '@oclif/core'
import { fishCompletion } from '../../cli/fish-completion.js'

export default class AutocompleteFish extends Command {
  static override summary = 'Print the fish completion script.'
  static override description =
    'oclif covers bash, zsh and PowerShell (`ferry autocomplete bash|zsh|powershell`); this is the fish ' +
    'counterpart. Save it where fish looks for completions; rerun it after upgrading ferry.'
  static override examples = ['<%= config.bin %> autocomplete fish > ~/.config/fish/completions/ferry.fish']

  async run() {
    process.stdout.write(fishCompletion(this.config.bin, this.config.commands, this.config.topics))
  }
}
