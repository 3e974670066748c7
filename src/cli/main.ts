// `mailwarden` command line: serve, worker, migrate, doctor, admin, audit.
import { Command } from 'commander';
import { registerAdminCommands } from './admin.ts';
import { registerAuditCommands } from './audit.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerScanCommand } from './scan.ts';
import { registerServeCommands } from './serve.ts';

const program = new Command();
program
  .name('mailwarden')
  .description('Send sales and marketing email without putting customer data, staff or your domain at risk.')
  .version('0.1.0')
  .showHelpAfterError();

registerServeCommands(program);
registerDoctorCommand(program);
registerAdminCommands(program);
registerAuditCommands(program);
registerScanCommand(program);

await program.parseAsync(process.argv);
