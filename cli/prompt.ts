import { createInterface } from 'node:readline'
import { text } from 'node:stream/consumers'
import { FerryError } from '../src/errors.js'
import { rememberSecret } from '../src/log.js'
import { passwordFromEnv } from '../src/sign/keys.js'

/** Reads a secret typed at the terminal without echoing it. */
export async function promptSecret(question: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const what = question.trim().replace(/:$/, '').toLowerCase()
    throw new FerryError('USAGE', `no terminal to type the ${what} at; pass it on standard input instead`)
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
  // Mute the echo of typed characters; only the question itself is written.
  const output = rl as unknown as { _writeToOutput: (s: string) => void }
  let asked = false
  output._writeToOutput = (s: string) => {
    if (!asked) {
      process.stderr.write(s)
      asked = true
    }
  }
  try {
    const secret = await new Promise<string>((resolve) => rl.question(question, resolve))
    rememberSecret(secret)
    return secret
  } finally {
    rl.close()
    process.stderr.write('\n')
  }
}

/** A secret piped on standard input: one line, without its trailing newline. */
export async function readSecretFromStdin(): Promise<string> {
  const secret = (await text(process.stdin)).replace(/\r?\n$/, '')
  rememberSecret(secret)
  return secret
}

/** The password of a private key file: FERRY_PASSWORD, else COSIGN_PASSWORD, else asked at the terminal. */
export async function keyPassword(): Promise<string> {
  const env = passwordFromEnv()
  if (env !== undefined) return env
  if (!process.stdin.isTTY) {
    throw new FerryError(
      'USAGE',
      'no password for the key: set FERRY_PASSWORD (or COSIGN_PASSWORD), or run in a terminal',
    )
  }
  return promptSecret('Enter password for private key: ')
}
