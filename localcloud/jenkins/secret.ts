import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * hudson.util.Secret as it appears on disk, in config.xml and in a JCasC export: `{` + base64(payload) + `}` with
 * payload = version byte 1, IV length (4 bytes, big-endian), data length (4 bytes), IV, AES/CBC/PKCS5 ciphertext of
 * the UTF-8 plaintext, keyed by the instance's `hudson.util.Secret` confidential key (128 bit). Short values therefore
 * start `{AQAAABAAAAAQ` or `{AQAAABAAAAAg`. Each instance has its own key, so a value is only readable where it was
 * made (README: Secrets).
 */
export class SecretBox {
  readonly #key = randomBytes(16);
  /** Jenkins keeps a Secret's IV for its lifetime, so the same value serializes the same way on every read. */
  readonly #cache = new Map<string, string>();

  encrypt(plaintext: string): string {
    const cached = this.#cache.get(plaintext);
    if (cached !== undefined) return cached;
    const iv = randomBytes(16);
    const cipher = createCipheriv('aes-128-cbc', this.#key, iv);
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const header = Buffer.alloc(9);
    header.writeUInt8(1, 0);
    header.writeUInt32BE(iv.length, 1);
    header.writeUInt32BE(data.length, 5);
    const value = `{${Buffer.concat([header, iv, data]).toString('base64')}}`;
    this.#cache.set(plaintext, value);
    return value;
  }

  /** Secret.decrypt: the plaintext, or undefined for anything this instance did not encrypt. */
  decrypt(value: string): string | undefined {
    const m = /^\{([A-Za-z0-9+/]+={0,2})\}$/.exec(value);
    if (!m?.[1]) return undefined;
    const payload = Buffer.from(m[1], 'base64');
    if (payload.length < 9 || payload[0] !== 1) return undefined;
    const ivLength = payload.readUInt32BE(1);
    const dataLength = payload.readUInt32BE(5);
    if (payload.length !== 9 + ivLength + dataLength || ivLength !== 16) return undefined;
    try {
      const decipher = createDecipheriv('aes-128-cbc', this.#key, payload.subarray(9, 25));
      return Buffer.concat([decipher.update(payload.subarray(25)), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }

  /**
   * jenkins.security.ExtendedReadSecretRedaction: every element text matching Secret.ENCRYPTED_VALUE_PATTERN that
   * decrypts on this instance becomes `********` (what a reader with ExtendedRead but not Configure gets).
   */
  redact(xml: string): string {
    return xml.replace(/>(\{?[A-Za-z0-9+/]+={0,2}\}?)</g, (whole, value: string) =>
      this.decrypt(value) === undefined ? whole : '>********<',
    );
  }
}
