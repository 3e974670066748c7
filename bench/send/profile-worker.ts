// Development aid: the worker's CPU per message for the part of sending that
// does not touch the database — build (Liquid slots, MIME splice, tracking URLs,
// VERP, DKIM Ed25519) and SMTP through the relay pool to postfix's smtp-sink —
// measured with process.cpuUsage, so the figure is this process's own work
// whatever else the machine runs.
//   node --import tsx bench/send/profile-worker.ts [MESSAGES] [--sessions 10] [--lanes 2]
// Add `--cpu-prof` to node's flags for a profile. Needs /usr/sbin/smtp-sink (bench/send installs postfix).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import type { Campaign } from '../../src/campaigns/service.ts';
import type { Contact } from '../../src/contacts/service.ts';
import { buildMessage, type CampaignMessage, type SendKeys } from '../../src/delivery/campaign-message.ts';
import { composeTemplate } from '../../src/delivery/compose.ts';
import { generateDkimKey } from '../../src/delivery/dkim.ts';
import { planRender } from '../../src/delivery/render-plan.ts';
import { RelayPool } from '../../src/delivery/smtp.ts';
import { allowedVariables, buildContext, sampleContact } from '../../src/templates/render.ts';
import { permissionsOf } from '../../src/auth/permissions.ts';
import { sendBenchBody } from './body.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = Number(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 20_000);
const SESSIONS = arg('sessions', 10);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const port = await freePort();
const sink = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', '-c', `127.0.0.1:${port}`, '1024'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 300));

const keys: SendKeys = { dkimKey: randomBytes(32), trackingKey: randomBytes(32), verpKey: randomBytes(32), messageIdKey: randomBytes(32) };
const domain = 'acme.example';
const allowed = allowedVariables('marketer', permissionsOf('marketer'), []);
const workspace = { name: 'Acme', postalAddress: '1 Main St, Springfield' };
const template = { subject: 'Spring range for {{ contact.first_name }}', body: sendBenchBody(), format: 'html' as const, text: null };
const sampleCtx = buildContext(
  { contact: sampleContact, company: null, campaign: { name: 'Spring', subject: template.subject }, workspace, unsubscribeUrl: 'https://mw.example/t/u/x', preferencesUrl: 'https://mw.example/t/p/x' },
  allowed,
);
const plan = await planRender(template, sampleCtx, { tracking: true });
if (plan.mode !== 'slots') throw new Error(`plan fell back to a full render: ${plan.reason}`);
const cm: CampaignMessage = {
  campaign: { id: 1, name: 'Spring', tracking: true } as Campaign,
  domain,
  plan,
  mime: composeTemplate({
    campaignId: 1,
    from: { name: 'Acme', address: `news@${domain}` },
    subject: template.subject,
    html: plan.html,
    text: plan.text,
    messageIdDomain: domain,
    messageIdKey: keys.messageIdKey,
    headers: { 'Feedback-ID': 'c1:mailwarden', 'List-Id': `<c1.${domain}>` },
  }),
  keys: [generateDkimKey('ed25519', domain, 'mw1')],
  domainSince: new Date(),
  allowed,
  workspace,
  version: 0,
};
const contact = (i: number): Contact =>
  ({
    id: `0190b7b4-1111-7000-8000-${String(i).padStart(12, '0')}`,
    email: `p${i}@bench${i % 50}.example`,
    firstName: `First${i}`,
    lastName: `Last${i}`,
    phone: null,
    notes: null,
    attributes: {},
    jobTitle: null,
    country: null,
    timeZone: null,
  }) as unknown as Contact;

const transport = new RelayPool([{ id: 'sink', url: `smtp://127.0.0.1:${port}`, requireTLS: false, maxConnections: SESSIONS }]);
const opts = { publicUrl: 'https://mw.example', bounceDomain: 'bounce.acme.example' };
let next = 0;
let sent = 0;
const run = async () => {
  while (next < N) {
    const i = next++;
    const m = await buildMessage(cm, keys, { contact: contact(i), company: null }, opts);
    const r = await transport.send(m);
    if (r.status === 'accepted') sent++;
  }
};
// warm-up (JIT, connections), then the measured run
const warm = N;
next = 0;
await Promise.all(Array.from({ length: SESSIONS * 2 }, run));
next = 0;
sent = 0;
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: SESSIONS * 2 }, run));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
console.log(
  `${sent.toLocaleString('en')} messages (after ${warm.toLocaleString('en')} warm-up) in ${seconds.toFixed(2)} s: ${(sent / seconds).toFixed(0)} msg/s; ` +
    `CPU ${Math.round((cpu.user + cpu.system) / sent)} µs/msg (user ${Math.round(cpu.user / sent)}, system ${Math.round(cpu.system / sent)}); load ${loadavg()[0].toFixed(1)}`,
);
await transport.close();
sink.kill();
