// Entry of the import's worker thread (plain JS, so it loads without a
// TypeScript loader). The parent's tsx loader does not reach worker threads,
// so register it in this thread before loading the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./import-worker.ts');
