// Entry of the import's encode worker (plain JS, so it loads without a
// TypeScript loader). The parent's tsx loader does not reach worker threads
// (neither `--import tsx` nor the API registration of bin/mailwarden.mjs), so
// register it in this thread before loading the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./encode-worker.ts');
