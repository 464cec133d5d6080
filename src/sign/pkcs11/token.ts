import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { isAbsolute } from 'node:path'
import type * as Pkcs11 from 'pkcs11js'
import { FerryError } from '../../errors.js'
import { type Pkcs11Uri, tokenName } from './uri.js'

/*
 * PKCS#11 through pkcs11js (PeculiarVentures): a maintained native binding of the PKCS#11 v2.40 C API,
 * call for call (C_Login, C_FindObjects, C_Sign, …), and the layer graphene-pk11 is itself built on.
 * ferry needs six calls (find a token, log in, find objects, read attributes, sign a digest, generate
 * a pair), so graphene's object model on top would be a second abstraction over the same calls, with
 * nothing in it ferry uses; going direct also keeps every Cryptoki error a CKR_ code ferry can name.
 */
type Binding = typeof Pkcs11

let binding: Binding | undefined

/**
 * The native addon is loaded on first use, never at import: only commands given a pkcs11: key pay for
 * the dlopen (and only they fail if the addon is missing on this platform).
 */
function loadBinding(): Binding {
  if (!binding) {
    try {
      binding = createRequire(import.meta.url)('pkcs11js') as Binding
    } catch (err) {
      throw new FerryError(
        'UNSUPPORTED',
        `PKCS#11 keys need the pkcs11js native module, which cannot be loaded here: ${(err as Error).message.split('\n')[0]}`,
      )
    }
  }
  return binding
}

/** The CKR_… name of a Cryptoki failure, or undefined for anything else. */
export function ckrOf(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : ''
  return /^CKR_[A-Z0-9_]+$/.test(message) ? message : undefined
}

/** A Cryptoki failure as one line: what ferry was doing, and the CKR_ code (the binding's message is only that). */
export function tokenError(doing: string, err: unknown): FerryError {
  if (err instanceof FerryError) return err
  const ckr = ckrOf(err)
  return new FerryError('INTERNAL', `PKCS#11: ${doing} failed (${ckr ?? (err as Error).message})`)
}

interface LoadedModule {
  pkcs11: Pkcs11.PKCS11
  users: number
}

/** One Cryptoki instance per library in a process: C_Initialize twice fails, C_Finalize ends it for all. */
const modules = new Map<string, LoadedModule>()

function openModule(path: string): LoadedModule {
  const open = modules.get(path)
  if (open) {
    open.users++
    return open
  }
  if (!isAbsolute(path)) {
    // dlopen of a bare name searches LD_LIBRARY_PATH and the loader's paths: load only what was named.
    throw new FerryError('USAGE', `PKCS#11 module-path must be an absolute path, not ${path}`)
  }
  if (!existsSync(path)) throw new FerryError('USAGE', `PKCS#11 module ${path}: no such file`)
  const pk = loadBinding()
  const pkcs11 = new pk.PKCS11()
  try {
    pkcs11.load(path)
  } catch (err) {
    throw new FerryError('USAGE', `PKCS#11 module ${path} cannot be loaded: ${(err as Error).message}`)
  }
  try {
    pkcs11.C_Initialize()
  } catch (err) {
    if (ckrOf(err) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      pkcs11.close()
      throw tokenError(`initialising ${path}`, err)
    }
  }
  const loaded = { pkcs11, users: 1 }
  modules.set(path, loaded)
  return loaded
}

function releaseModule(path: string): void {
  const loaded = modules.get(path)
  if (!loaded || --loaded.users > 0) return
  modules.delete(path)
  try {
    loaded.pkcs11.C_Finalize()
  } finally {
    loaded.pkcs11.close()
  }
}

const trimmed = (padded: string) => padded.replace(/[\s\0]+$/, '')

interface FoundToken {
  slot: Pkcs11.Handle
  label: string
}

function findToken(pkcs11: Pkcs11.PKCS11, uri: Pkcs11Uri, modulePath: string): FoundToken {
  const found: (FoundToken & { serial: string })[] = []
  const seen: string[] = []
  for (const slot of pkcs11.C_GetSlotList(true)) {
    const info = pkcs11.C_GetTokenInfo(slot)
    const token = {
      slot,
      label: trimmed(info.label),
      serial: trimmed(info.serialNumber),
      manufacturer: trimmed(info.manufacturerID),
      model: trimmed(info.model),
    }
    seen.push(`"${token.label}"`)
    if (uri.token !== undefined && token.label !== uri.token) continue
    if (uri.serial !== undefined && token.serial !== uri.serial) continue
    if (uri.manufacturer !== undefined && token.manufacturer !== uri.manufacturer) continue
    if (uri.model !== undefined && token.model !== uri.model) continue
    if (uri.slotId !== undefined && slot.readBigUInt64LE(0) !== uri.slotId) continue
    found.push(token)
  }
  if (found.length === 0) {
    throw new FerryError(
      'NOT_FOUND',
      `PKCS#11 token ${tokenName(uri)} not found in ${modulePath} (tokens present: ${seen.join(', ') || 'none'})`,
    )
  }
  if (found.length > 1) {
    throw new FerryError(
      'USAGE',
      `PKCS#11 URI matches ${found.length} tokens (serials ${found.map((t) => t.serial).join(', ')}): add serial= or slot-id=`,
    )
  }
  return found[0]!
}

/** An open session with one token; `close` logs out and releases the module. */
export interface TokenSession {
  pk: Binding
  pkcs11: Pkcs11.PKCS11
  session: Pkcs11.Handle
  /** The token's label (blank padding removed), for messages. */
  label: string
  /**
   * Logs in as the user. A refused PIN is CREDENTIALS with the CKR_ code and the token's label, never
   * the PIN: the binding's own messages are only the code.
   */
  login(pin: string): void
  close(): void
}

export interface OpenSessionOptions {
  modulePath: string
  /** A read-write session (to create objects). Default read-only. */
  write?: boolean
}

/** Finds the token the URI names and opens a session on it (not logged in). */
export function openTokenSession(uri: Pkcs11Uri, opts: OpenSessionOptions): TokenSession {
  const pk = loadBinding()
  const { pkcs11 } = openModule(opts.modulePath)
  let session: Pkcs11.Handle | undefined
  let loggedIn = false
  const close = () => {
    try {
      if (session && loggedIn) pkcs11.C_Logout(session)
      if (session) pkcs11.C_CloseSession(session)
    } catch {
      // Closing is best effort: the module is finalised next, which ends every session anyway.
    } finally {
      releaseModule(opts.modulePath)
    }
  }
  try {
    const token = findToken(pkcs11, uri, opts.modulePath)
    const flags = pk.CKF_SERIAL_SESSION | (opts.write ? pk.CKF_RW_SESSION : 0)
    try {
      session = pkcs11.C_OpenSession(token.slot, flags)
    } catch (err) {
      throw tokenError(`opening a session with token ${token.label}`, err)
    }
    const opened = session
    const login = (pin: string) => {
      try {
        pkcs11.C_Login(opened, pk.CKU_USER, pin)
        loggedIn = true
      } catch (err) {
        const ckr = ckrOf(err)
        if (ckr === 'CKR_USER_ALREADY_LOGGED_IN') return
        throw new FerryError(
          'CREDENTIALS',
          `PKCS#11 login to token ${token.label} failed (${ckr ?? 'not a Cryptoki error'})`,
        )
      }
    }
    return { pk, pkcs11, session, label: token.label, login, close }
  } catch (err) {
    close()
    throw err
  }
}

/** Handles of the objects of `cls` matching the URI's label and id (at most two are looked for). */
export function findObjects(t: TokenSession, cls: number, uri: Pkcs11Uri): Pkcs11.Handle[] {
  const template: Pkcs11.Template = [{ type: t.pk.CKA_CLASS, value: cls }]
  if (uri.object !== undefined) template.push({ type: t.pk.CKA_LABEL, value: uri.object })
  if (uri.id !== undefined) template.push({ type: t.pk.CKA_ID, value: Buffer.from(uri.id) })
  try {
    t.pkcs11.C_FindObjectsInit(t.session, template)
    try {
      return t.pkcs11.C_FindObjects(t.session, 2)
    } finally {
      t.pkcs11.C_FindObjectsFinal(t.session)
    }
  } catch (err) {
    throw tokenError(`searching token ${t.label}`, err)
  }
}

/** One attribute's raw value. */
export function attribute(t: TokenSession, object: Pkcs11.Handle, type: number): Buffer {
  try {
    return t.pkcs11.C_GetAttributeValue(t.session, object, [{ type }])[0]!.value
  } catch (err) {
    throw tokenError(`reading a key attribute in token ${t.label}`, err)
  }
}
