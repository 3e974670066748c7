// The server under test, in its own process (so the load generator does not share
// its event loop): the real `serve()` (HTTP + job engine) from src/app.ts, with the
// environment given by the parent in MW_BENCH_ENV. Sends {url} once listening and
// closes cleanly on the message 'close' (or when the parent goes away).
import pino from 'pino';
import { serve } from '../../src/app.ts';
import { loadConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/config/logger.ts';

const env = JSON.parse(process.env.MW_BENCH_ENV ?? '{}') as Record<string, string>;
const config = loadConfig(env);
const logger = createLogger({ level: config.logLevel, format: 'json' }, pino.destination('/dev/null'));

try {
  const running = await serve(config, logger);
  let closing = false;
  const close = async () => {
    if (closing) return;
    closing = true;
    await running.close();
    process.exit(0);
  };
  process.on('message', (m) => {
    if (m === 'close') void close();
  });
  process.on('disconnect', () => void close());
  process.send?.({ type: 'ready', url: running.url });
} catch (err) {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.send) process.send({ type: 'error', message }, () => process.exit(1));
  else {
    console.error(message);
    process.exit(1);
  }
}
