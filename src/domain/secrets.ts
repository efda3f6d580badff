import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Base58 (Bitcoin alphabet): no 0/O or l/I to misread, nothing to escape in a header or URL. */
export function base58(bytes: Uint8Array): string {
  let n = BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
  let out = '';
  while (n > 0n) {
    out = BASE58[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = `1${out}`;
  }
  return out;
}

/** Bits of randomness in every key and token Tollgate issues. */
export const SECRET_BITS = 192;

/**
 * A new customer key: the readable prefix and 192 random bits in base58,
 * e.g. `tg_5pXq...`. Only `hashSecret(key)` is stored.
 */
export function newSecret(prefix: string): string {
  return prefix + base58(randomBytes(SECRET_BITS / 8));
}

/**
 * The stored form of a key or token: SHA-256 hex. A key carries 192 random
 * bits, so a fast hash is enough (nothing to brute-force, unlike a password),
 * and the check path can afford it on every call.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Compares two secrets' hashes without leaking where they differ. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The prefixes of the tokens Tollgate issues: admin, embedded admin, service, webhook server secret. */
const TOKEN_PREFIXES = ['tga_', 'tge_', 'tgs_', 'tgw_'];

/**
 * A function that masks, in a text, whatever has the shape of a key or token
 * Tollgate issues (a known prefix and 16 or more base58 characters), e.g. a
 * key pasted where an id was expected, which a path or an error message
 * would otherwise repeat: `tg_5pXq...` becomes `tg_[redacted]`.
 */
export function secretMasker(keyPrefix: string): (text: string) => string {
  const prefixes = [keyPrefix, ...TOKEN_PREFIXES].map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const shape = new RegExp(`(${prefixes.join('|')})[${BASE58}]{16,}`, 'g');
  return (text) => (text.includes('_') ? text.replace(shape, '$1[redacted]') : text);
}

/** A new opaque id such as `app_3kTq8VwzR2`, for entities created without one. */
export function newId(kind: string): string {
  return `${kind}_${base58(randomBytes(10))}`;
}

let lastSortable = { ms: 0, counter: 0 };

/**
 * A new id that sorts (bytewise) after the ids this process made before,
 * and by time across processes, e.g. `dlv_0mm2kq5x40001Ab3xY9`: lists that
 * show the newest first page by id alone.
 */
export function newSortableId(kind: string, now: number): string {
  lastSortable = now > lastSortable.ms ? { ms: now, counter: 0 } : { ms: lastSortable.ms, counter: lastSortable.counter + 1 };
  const time = lastSortable.ms.toString(36).padStart(9, '0');
  const counter = lastSortable.counter.toString(36).padStart(4, '0');
  return `${kind}_${time}${counter}${base58(randomBytes(6))}`;
}
