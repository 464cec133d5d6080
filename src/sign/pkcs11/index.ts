// Keys in PKCS#11 tokens (HSMs, smart cards, SoftHSM): RFC 7512 URIs, signing, key generation.
// The native binding is loaded on first use (token.ts), so importing this costs nothing.
export {
  ecdsaRawToDer,
  generateTokenKeyPair,
  openPkcs11Signer,
  type Pkcs11KeyOptions,
  readTokenPublicKey,
} from './key.js'
export {
  describePkcs11Uri,
  isPkcs11Uri,
  PKCS11_SCHEME,
  type Pkcs11Uri,
  parsePkcs11Uri,
  tokenName,
} from './uri.js'
