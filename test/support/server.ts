// A real HTTP server on a random port over a fresh test database, for browser
// tests and anything else that needs TCP rather than inject().
import { domainRoutes, serverDeps } from '../../src/app.ts';
import { createLogger } from '../../src/config/logger.ts';
import { buildServer } from '../../src/http/server.ts';
import { testConfig } from './app.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export async function startRealServer(): Promise<{ url: string; database: TestDatabase; close(): Promise<void> }> {
  const database = await createTestDatabase();
  const config = testConfig();
  const { app } = await buildServer(serverDeps(config, database, createLogger({ level: 'warn', format: 'json' })), domainRoutes);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address,
    database,
    async close() {
      await app.close();
      await database.close();
    },
  };
}
