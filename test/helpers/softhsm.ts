import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Debian's softhsm2 package puts the PKCS#11 module here. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

export interface SoftHsm {
  dir: string
  /** SOFTHSM2_CONF for every process that opens the token (ferry, pkcs11-tool). */
  env: { SOFTHSM2_CONF: string }
  label: string
  /** The slot SoftHSM put the token in (CK_SLOT_ID, what slot-id= names). */
  slotId: string
  /** Distinctive, so that a test can look for it in any output and not find it by chance. */
  pin: string
  /** Holds the PIN and a newline, mode 0600: what pin-source= names. */
  pinFile: string
  /** `pkcs11:token=LABEL;PATH?module-path=…&QUERY`, QUERY default `pin-source=PIN FILE`. */
  uri(path: string, query?: string): string
  remove(): Promise<void>
}

/**
 * A SoftHSM2 token of its own: a private SOFTHSM2_CONF and token directory in a temp dir, so no test
 * touches the machine's tokens (/var/lib/softhsm) or another test's. Tests that open it in-process set
 * process.env.SOFTHSM2_CONF from `env` first (the module reads it at C_Initialize).
 */
export async function startSoftHsm(opts: { label?: string; pin?: string } = {}): Promise<SoftHsm> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-softhsm-'))
  const tokens = join(dir, 'tokens')
  await mkdir(tokens)
  const conf = join(dir, 'softhsm2.conf')
  await writeFile(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`)
  const label = opts.label ?? 'T'
  const pin = opts.pin ?? 'Hsm-Pin-7319'
  const env = { SOFTHSM2_CONF: conf }
  const said = execFileSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', 'So-Pin-2864'],
    { env: { ...process.env, ...env }, encoding: 'utf8' },
  )
  const slot = /reassigned to slot (\d+)/.exec(said)
  if (!slot) throw new Error(`softhsm2-util said: ${said}`)
  const pinFile = join(dir, 'pin')
  await writeFile(pinFile, `${pin}\n`, { mode: 0o600 })
  return {
    dir,
    env,
    label,
    slotId: slot[1]!,
    pin,
    pinFile,
    uri: (path, query = `pin-source=${pinFile}`) =>
      `pkcs11:token=${label};${path}?module-path=${SOFTHSM_MODULE}${query ? `&${query}` : ''}`,
    remove: () => rm(dir, { recursive: true, force: true }),
  }
}
