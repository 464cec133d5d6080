import { text } from 'node:stream/consumers'
import { FerryError } from '../src/errors.js'
import { rememberSecret } from '../src/log.js'

/** Credentials given on the command line, by the registry they are for. */
export type ExplicitCredentials = Record<string, { username: string; password: string }>

/** `USER:PASS`: the user name ends at the first ":", the password may hold more. */
export function parseCreds(value: string, flag: string): { username: string; password: string } {
  const colon = value.indexOf(':')
  const username = colon === -1 ? value : value.slice(0, colon)
  const password = colon === -1 ? '' : value.slice(colon + 1)
  rememberSecret(password)
  // Never the value itself: it holds the secret.
  if (!username || !password) throw new FerryError('USAGE', `${flag} takes USER:PASS, both non-empty`)
  return { username, password }
}

/** One line `USER:PASS` on standard input, without its trailing newline. */
export async function readCredsFromStdin(): Promise<{ username: string; password: string }> {
  if (process.stdin.isTTY) {
    throw new FerryError('USAGE', '--creds-stdin reads USER:PASS from a pipe, not a terminal')
  }
  const line = (await text(process.stdin)).split(/\r?\n/)[0] ?? ''
  return parseCreds(line, '--creds-stdin')
}
