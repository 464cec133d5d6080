import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const DEMO = join(import.meta.dirname, '..', '..', 'scripts', 'demo.js')

// `npm run demo` is the README's first command: its output is what a new user judges ferry by.
describe('npm run demo', () => {
  it(
    'runs every step, each ending with one line saying what it proved, in clean output',
    { timeout: 240_000 },
    () => {
      const r = spawnSync(process.execPath, [DEMO], { encoding: 'utf8', timeout: 230_000 })
      expect(r.status, r.stderr).toBe(0)
      const lines = r.stdout.split('\n')
      const sections = lines.filter((l) => l.startsWith('== '))
      const proofs = lines.filter((l) => l.startsWith('=> proved: '))
      expect(sections).toHaveLength(14)
      expect(proofs).toHaveLength(14)
      // Each section holds exactly one proof, as its last word.
      const blocks = r.stdout.split('\n== ').slice(1)
      for (const block of blocks) expect(block.match(/\n=> proved: /g), block.split('\n')[0]).toHaveLength(1)
      expect(proofs.join('\n')).toContain('digest kept')
      expect(proofs.join('\n')).toContain('signature verified offline')
      expect(proofs.join('\n')).toContain('nothing re-sent')
      expect(proofs.join('\n')).toContain('3 attempts in the ledger')
      // skopeo pushing latest into prod: the registry itself refuses it, naming the rule.
      expect(proofs.join('\n')).toContain('the registry refused the push of latest into prod')
      expect(r.stdout).toMatch(/tags\.forbid \(environment prod\): tag "latest" is forbidden here/)
      // The bad days: a tampered bundle refused, a retention apply undone, the cache's second pull.
      expect(proofs.join('\n')).toMatch(
        /the tampered bundle was refused \(blob sha256:[0-9a-f]{12}… does not match/,
      )
      expect(r.stdout).toContain('(exit 5, as intended)')
      expect(proofs.join('\n')).toMatch(/apply backed up, then removed \S+ and \S+; restore put both back/)
      expect(proofs.join('\n')).toMatch(
        /the second pull came from the cache: [1-9]\d* requests to upstream for the first pull, none for the second/,
      )

      expect(lines.filter((l) => /\s$/.test(l))).toEqual([])
      // The bundle is named after its file, mini-api-1.0.tar: name mini-api, version 1.0.
      expect(r.stdout).toContain('Verified: mini-api-1.0.tar — mini-api 1.0 (')
      expect(r.stdout).not.toMatch(/mini-api(-1\.0)? 0\b/)
      // Each verify lists the unchecked transparency log once, though two signature formats were checked.
      for (const block of r.stdout.split('not checked (offline, with a key):').slice(1)) {
        const list = block.split('\n').filter((l) => l.startsWith('  - '))
        expect(list.filter((l) => l.includes('transparency log'))).toHaveLength(1)
      }
      // The first sync mounted every blob from the same registry: it says so instead of "0 B".
      const sync = lines.find((l) => l.startsWith('copied ') && l.includes('/mirror/'))
      expect(sync).toMatch(/no blob sent, 13 mounted, 8 manifests pushed$/)
    },
  )
})
