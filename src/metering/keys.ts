import { hashSecret, newId, newSecret } from '../domain/secrets.js';
import type { Key } from '../domain/types.js';
import type { CatalogStore } from '../store/store.js';

/** How much of a secret a list shows: the prefix and four characters. */
export function secretHint(secret: string, prefix: string): string {
  return `${secret.slice(0, prefix.length + 4)}…`;
}

/**
 * Issues a customer key: a new secret with the key prefix, of which only the
 * hash and a hint are kept. The secret is returned this once; it cannot be
 * shown again.
 */
export async function issueKey(
  store: Pick<CatalogStore, 'createKey'>, key: { appId: string; name: string; expiresAt: number | null }, keyPrefix: string, now: number,
): Promise<{ key: Key; secret: string }> {
  const secret = newSecret(keyPrefix);
  const created = await store.createKey({
    id: newId('key'), appId: key.appId, name: key.name, hint: secretHint(secret, keyPrefix), secretHash: hashSecret(secret), createdAt: now, expiresAt: key.expiresAt,
  });
  return { key: created, secret };
}
