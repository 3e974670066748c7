// A fresh test database with a vault over it (its own random master key, no
// keyring cache): what the contacts service tests need without the HTTP app.
import { randomBytes } from 'node:crypto';
import { LocalKeyProvider } from '../../src/crypto/key-provider.ts';
import { Vault } from '../../src/contacts/vault.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export async function createVaultTestDatabase(): Promise<{ database: TestDatabase; vault: Vault }> {
  const database = await createTestDatabase();
  const vault = new Vault(database.db, new LocalKeyProvider(randomBytes(32)), { cacheMs: 0 });
  await vault.ready();
  return { database, vault };
}
