import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A throwaway DOCKER_CONFIG directory whose config.json holds `auths` for the given hosts. */
export async function tempDockerConfig(
  creds: Record<string, { username: string; password: string }> = {},
  extra: Record<string, unknown> = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-docker-config-'))
  const auths = Object.fromEntries(
    Object.entries(creds).map(([host, c]) => [
      host,
      { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') },
    ]),
  )
  await writeFile(join(dir, 'config.json'), JSON.stringify({ auths, ...extra }, null, 2))
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) }
}
