/**
 * The key pair of an oidc-provider ID-token credential as the plugin keeps it (IdTokenCredentials: constructor and
 * readResolve). No emulator imports, so that credentials.ts can use it.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/**
 * IdTokenCredentials' constructor: a fresh RSA 2048 key pair, kept as the `privateKey` Secret holds it, the standard
 * base64 of the PKCS#8 DER private key (the public key is derived from it).
 */
export function newPrivateKey(): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
}

const loaded = new Map<string, KeyObject>();

/**
 * IdTokenCredentials.readResolve: `privateKey` decoded (java.util.Base64's basic decoder: no whitespace, padding
 * optional) and read as an RSA PKCS#8 key. Throws what Jenkins would fail with, Java's exception as the message.
 */
export function loadPrivateKey(stored: string | undefined): KeyObject {
  if (stored === undefined) throw new Error('java.lang.NullPointerException');
  const cached = loaded.get(stored);
  if (cached) return cached;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(stored) || stored.length % 4 === 1)
    throw new Error('java.lang.IllegalArgumentException: Illegal base64 character');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(stored, 'base64'), format: 'der', type: 'pkcs8' });
  } catch {
    throw new Error('java.security.spec.InvalidKeySpecException: invalid key format');
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw new Error('java.security.spec.InvalidKeySpecException: not an RSA private key');
  loaded.set(stored, key);
  return key;
}
