import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { missingTools, missingToolsMessage, TEST_TOOLS } from './helpers/tools.js'

describe('test tools', () => {
  it('are all installed here (global setup refuses to start otherwise)', () => {
    expect(missingTools()).toEqual([])
  })

  it('name the Debian package of each one missing, in one install command', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-tools-'))
    try {
      await writeFile(join(dir, 'skopeo'), '#!/bin/sh\n')
      await chmod(join(dir, 'skopeo'), 0o755)
      const tools = [...TEST_TOOLS.slice(1), { bin: join(dir, 'docker-registry'), pkg: 'docker-registry' }]
      const missing = missingTools(tools, dir)
      expect(missing.map((t) => t.pkg)).toEqual(['umoci', 'openssl', 'softhsm2', 'opensc', 'docker-registry'])
      expect(missingToolsMessage(missing)).toBe(
        `the tests need programs that are not installed: umoci (Debian package umoci), openssl (Debian package openssl), softhsm2-util (Debian package softhsm2), pkcs11-tool (Debian package opensc), ${join(dir, 'docker-registry')} (Debian package docker-registry). ` +
          'On Debian/Ubuntu: sudo apt-get install umoci openssl softhsm2 opensc docker-registry',
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
