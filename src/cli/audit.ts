import type { Command } from 'commander';
import { appendAudit, verifyAuditChain } from '../audit/service.ts';
import { cliActor, withDatabase } from './context.ts';

export function registerAuditCommands(program: Command) {
  const audit = program.command('audit').description('The tamper-evident audit trail');
  audit
    .command('verify')
    .description('Recompute the hash chain; exit 1 naming the first broken entry')
    .action(async () => {
      const code = await withDatabase(async ({ db }) => {
        const r = await verifyAuditChain(db);
        if (r.ok) {
          process.stdout.write(`audit chain intact: ${r.checked} entries verified\n`);
          await appendAudit(db, cliActor(), { action: 'audit.verified', target: 'audit_log', details: { checked: r.checked } });
          return 0;
        }
        process.stdout.write(`audit chain BROKEN at entry ${r.brokenAt.id}: ${r.brokenAt.reason} (${r.checked} entries before it verified)\n`);
        return 1;
      });
      process.exit(code);
    });
}
