import type { Command, Interfaces } from '@oclif/core'

/**
 * A fish completion script for every visible command, topic and flag. oclif's autocomplete plugin writes
 * bash, zsh and PowerShell only; fish reads a plain `complete` list, so ferry writes that itself.
 */
export function fishCompletion(
  bin: string,
  commands: Command.Loadable[],
  topics: Interfaces.Topic[],
): string {
  const visible = commands.filter((c) => !c.hidden)
  const lines = [
    `# fish completion for ${bin}: ${bin} autocomplete fish > ~/.config/fish/completions/${bin}.fish`,
    `complete -c ${bin} -f`,
    // The words typed so far that are not flags: `bundle create` while completing its flags or arguments.
    `function __${bin}_words`,
    '    set -l tokens (commandline -opc)',
    '    set -e tokens[1]',
    "    string match -v -- '-*' $tokens",
    'end',
    // True when the words typed so far are exactly PREFIX (the command or topic being completed under).
    `function __${bin}_at`,
    `    set -l words (__${bin}_words)`,
    '    test "$words" = "$argv"',
    'end',
    // True when the words typed so far start with the command COMMAND.
    `function __${bin}_in`,
    `    set -l words (__${bin}_words)`,
    '    set -l n (count $argv)',
    '    test (count $words) -ge $n; and test "$words[1..$n]" = "$argv"',
    'end',
  ]
  const children = new Map<string, Map<string, string>>()
  const add = (parent: string, word: string, description: string) => {
    const under = children.get(parent) ?? new Map<string, string>()
    if (!under.has(word)) under.set(word, description)
    children.set(parent, under)
  }
  const summaries = new Map(topics.map((t) => [t.name, t.description ?? '']))
  for (const c of visible) summaries.set(c.id, c.summary ?? c.description ?? '')
  for (const c of visible) {
    const words = c.id.split(':')
    for (let i = 0; i < words.length; i++) {
      const parent = words.slice(0, i).join(' ')
      const id = words.slice(0, i + 1).join(':')
      add(parent, words[i]!, (summaries.get(id) ?? '').replaceAll('<%= config.bin %>', bin))
    }
  }
  for (const [parent, under] of [...children].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [word, description] of under) {
      const line = `complete -c ${bin} -n ${quote(`__${bin}_at ${parent}`.trimEnd())} -a ${quote(word)}`
      lines.push(description ? `${line} -d ${quote(firstLine(description))}` : line)
    }
  }
  for (const c of [...visible].sort((a, b) => a.id.localeCompare(b.id))) {
    const condition = quote(`__${bin}_in ${c.id.split(':').join(' ')}`)
    for (const [name, flag] of Object.entries(c.flags).sort(([a], [b]) => a.localeCompare(b))) {
      if (flag.hidden) continue
      const parts = [`complete -c ${bin} -n ${condition} -l ${name}`]
      if (flag.char) parts.push(`-s ${flag.char}`)
      if (flag.type === 'option') {
        parts.push(flag.options?.length ? `-x -a ${quote(flag.options.join(' '))}` : '-r -F')
      }
      const description = flag.summary ?? flag.description
      if (description) parts.push(`-d ${quote(firstLine(description))}`)
      lines.push(parts.join(' '))
    }
  }
  return `${lines.join('\n')}\n`
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim()
}

function quote(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
}
