// `mailwarden` command line: serve, worker, migrate, doctor, admin, audit.
import { Command } from 'commander';
import { registerAdminCommands } from './admin.ts';
import { registerAuditCommands } from './audit.ts';
import { registerContactsCommands } from './contacts.ts';
import { registerDoctorCommand } from './doctor.ts';
import { registerKeysCommands } from './keys.ts';
import { registerEventsCommands } from './events.ts';
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
registerContactsCommands(program);
registerKeysCommands(program);
registerEventsCommands(program);
registerScanCommand(program);

await program.parseAsync(process.argv);
