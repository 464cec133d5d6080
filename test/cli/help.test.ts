import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { stripVTControlCharacters } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry } from '../helpers/cli.js'

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js')
const { version } = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'))

describe(
  'help, version, completion and typos, as crane and cosign users type them',
  { timeout: 120_000 },
  () => {
    let dir: string
    let env: Record<string, string>

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ferry-help-'))
      // The autocomplete plugin caches its scripts under XDG_CACHE_HOME; a throwaway one keeps HOME clean.
      env = { XDG_CACHE_HOME: join(dir, 'cache'), HOME: dir }
    })
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true })
    })

    it('answers `help`, `-h` and `--help`, at the top and for a command, with the same text', async () => {
      const [help, h, dashHelp] = await Promise.all([ferry(['help']), ferry(['-h']), ferry(['--help'])])
      for (const r of [help, h, dashHelp]) {
        expect(r.code).toBe(0)
        expect(r.stdout).toMatch(/\n\s+copy\s+Copy an image/)
      }
      expect(h.stdout).toBe(help.stdout)
      expect(dashHelp.stdout).toBe(help.stdout)

      const forms = await Promise.all([
        ferry(['help', 'copy']),
        ferry(['copy', '-h']),
        ferry(['copy', '--help']),
        ferry(['help', 'bundle', 'create']),
      ])
      for (const r of forms) expect(r.code).toBe(0)
      expect(forms[0].stdout).toContain('$ ferry copy SOURCE DESTINATION')
      expect(forms[1].stdout).toBe(forms[0].stdout)
      expect(forms[2].stdout).toBe(forms[0].stdout)
      expect(forms[3].stdout).toContain('$ ferry bundle create')
    })

    it('describes every topic in the top-level help, autocomplete as all its shells', async () => {
      const r = await ferry(['--help'])
      const topics = r.stdout.split('\nTOPICS\n')[1]!.split('\n\n')[0]!
      expect(topics).toMatch(/^ {2}autocomplete {2}Shell completion for bash, zsh, PowerShell and fish/m)
      for (const line of topics.split('\n').filter((l) => /^ {2}\S/.test(l))) {
        expect(line, line).toMatch(/^ {2}\S+ {2,}\S/)
      }
    })

    it('answers `version`, `-v` and `--version` with the package version', async () => {
      const forms = await Promise.all([ferry(['version']), ferry(['-v']), ferry(['--version'])])
      for (const r of forms) {
        expect(r.code).toBe(0)
        expect(r.stdout).toMatch(new RegExp(`^ferry/${version.replaceAll('.', '\\.')} \\S+ node-v\\d+`))
        // The commit the build came from (scripts/build-info.js), -dirty when the tree had changes.
        expect(r.stdout).toMatch(/ node-v\S+ commit [0-9a-f]{12}(-dirty)?\n$/)
        expect(r.stdout).toBe(forms[0].stdout)
      }
    })

    it('writes bash, zsh and PowerShell completion that a shell loads', async () => {
      for (const shell of ['bash', 'zsh', 'powershell']) {
        const r = await ferry(['autocomplete', shell], { env })
        expect(r.code).toBe(0)
        expect(r.stdout).toContain(`ferry autocomplete script ${shell}`)
      }
      const cache = join(dir, 'cache', 'ferry', 'autocomplete')
      for (const file of ['bash_setup', 'zsh_setup', 'functions/bash/ferry.bash', 'functions/zsh/_ferry']) {
        expect(existsSync(join(cache, file)), file).toBe(true)
      }
      expect(await readFile(join(cache, 'functions', 'powershell', 'ferry.ps1'), 'utf8')).toContain('"copy"')
      const script = await ferry(['autocomplete', 'script', 'bash'], { env })
      expect(script.stdout).toContain(`FERRY_AC_BASH_SETUP_PATH=${join(cache, 'bash_setup')}`)
      // bash itself loads the setup the printed line sources, and then completes `ferry`.
      const bash = spawnSync('bash', ['-c', `${script.stdout.trim()}\ncomplete -p ferry`], {
        encoding: 'utf8',
      })
      expect(bash.status).toBe(0)
      expect(bash.stdout).toMatch(/^complete .*ferry$/m)
      expect(await readFile(join(cache, 'functions', 'bash', 'ferry.bash'), 'utf8')).toContain(
        'bundle:create',
      )
    })

    it('writes fish completion that fish completes commands, subcommands, flags and flag values with', async () => {
      const r = await ferry(['autocomplete', 'fish'])
      expect(r.code).toBe(0)
      const file = join(dir, 'ferry.fish')
      await writeFile(file, r.stdout)
      const complete = (line: string) => {
        const fish = spawnSync(
          'fish',
          ['-N', '-c', `function ferry; end; source ${file}; complete -C '${line}'`],
          {
            encoding: 'utf8',
          },
        )
        expect(fish.stderr).toBe('')
        return fish.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('\t')[0])
      }
      expect(complete('ferry bu')).toEqual(['bundle'])
      expect(complete('ferry bundle ')).toEqual(['create', 'import', 'ls', 'verify'])
      expect(complete('ferry copy oci:a --ref')).toEqual(['--referrers'])
      expect(complete('ferry attach sbom x --format ')).toEqual(['cyclonedx', 'spdx'])
    })

    it('names an unknown command and exits 127; on a terminal it asks "Did you mean copy?"', async () => {
      const piped = await ferry(['cpy'])
      expect(piped.code).toBe(127)
      // With CI set, the plugin colours its words even on a pipe: compare the text.
      const said = stripVTControlCharacters(piped.stderr)
      expect(said).toContain('cpy is not a ferry command.')
      expect(said).toContain('Run ferry help for a list of available commands.')

      // The suggestion is a prompt, shown only on a terminal: `script` gives the CLI one, and the test answers
      // "n" once the question is on the screen.
      const tty = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
        const child = spawn('script', ['-qec', `${process.execPath} ${BIN} cpy`, '/dev/null'], {
          env: { ...process.env, FORCE_COLOR: '0' },
          stdio: ['pipe', 'pipe', 'pipe'],
        })
        let out = ''
        let answered = false
        child.stdout.on('data', (d) => {
          out += d
          if (!answered && out.includes('(Y/n)')) {
            answered = true
            child.stdin.write('n\r')
          }
        })
        child.on('error', reject)
        child.on('close', (code) => resolve({ code, out }))
      })
      expect(tty.out).toContain('Did you mean copy?')
      expect(tty.code).toBe(127)
    })

    it('copy --quiet prints only the final DST@DIGEST line', async () => {
      const { openLayoutTarget } = await import('../../src/layout/index.js')
      const { pushSyntheticImage } = await import('../../src/synthetic.js')
      const source = await openLayoutTarget(join(dir, 'quiet-src'), { create: true })
      const image = await pushSyntheticImage(source, { seed: 'quiet', layers: 1, layerSize: 1000 }, '1.0')
      await source.close()
      const r = await ferry([
        'copy',
        '-q',
        `oci:${join(dir, 'quiet-src')}:1.0`,
        `oci:${join(dir, 'quiet-dst')}:1.0`,
      ])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toBe('')
      expect(r.stdout).toBe(`oci:${join(dir, 'quiet-dst')}:1.0@${image.digest}\n`)
    })

    it('answers help and version from the manifest: no command or library module is loaded', async () => {
      // What keeps start-up cheap is structural: --help and version read oclif.manifest.json and never
      // import a command (which would pull in the registry client, sigstore, zod schemas). A resolve hook
      // reports every dist/commands and dist/src module the process imports.
      const hook = `data:text/javascript,import{register}from'node:module';register('data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);if(r.url.includes("/dist/commands/")||r.url.includes("/dist/src/"))console.error("loaded "+r.url);return r}')`
      const loaded = (args: string[]) => {
        const r = spawnSync(process.execPath, ['--import', hook, BIN, ...args], { encoding: 'utf8' })
        return r.stderr.split('\n').filter((l) => l.startsWith('loaded '))
      }
      for (const args of [['--help'], ['copy', '--help'], ['--version']]) {
        expect(loaded(args), args.join(' ')).toEqual([])
      }
      // `version` is ferry's own command: it loads itself (and the build's commit), nothing of the library.
      expect(loaded(['version'])).toEqual([
        `loaded ${pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'commands', 'version.js')).href}`,
      ])
      // The hook does see imports: running a command loads it.
      expect(loaded(['digest', 'oci:/nonexistent:1'])).toContain(
        `loaded ${pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'commands', 'digest.js')).href}`,
      )
    })

    it('starts in well under half a second of CPU for help and version', async () => {
      // CPU time rather than wall time: the machine running the tests is shared. Module loading is most
      // of it (oclif and its plugins); bench/ is where start-up is measured against other tools.
      const cpuMs = (args: string[]) => {
        const hook = `data:text/javascript,process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('cpu='+(u.user+u.system)/1000+'\\n')})`
        const r = spawnSync(process.execPath, ['--import', hook, BIN, ...args], { encoding: 'utf8' })
        expect(r.status).toBe(0)
        return Number(/cpu=([\d.]+)/.exec(r.stderr)![1])
      }
      for (const args of [['--help'], ['copy', '--help'], ['version']]) {
        const best = Math.min(cpuMs(args), cpuMs(args), cpuMs(args))
        expect(best, args.join(' ')).toBeLessThanOrEqual(500)
      }
    })
  },
)
