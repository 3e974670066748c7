// Development aid: the worker's CPU per message for the part of sending that
// does not touch the database — build (Liquid slots, MIME splice, tracking URLs,
// VERP, DKIM Ed25519) and SMTP through the relay pool to postfix's smtp-sink —
// measured with process.cpuUsage, so the figure is this process's own work
// whatever else the machine runs.
//   node --import tsx bench/send/profile-worker.ts [MESSAGES] [--sessions 10] [--lanes 2]
// Add `--cpu-prof` to node's flags for a profile. Needs /usr/sbin/smtp-sink (bench/send installs postfix).
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { buildMessage } from '../../src/delivery/campaign-message.ts';
import { RelayPool } from '../../src/delivery/smtp.ts';
import { freePort } from '../lib/net.ts';
import { benchCampaign } from './body.ts';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = Number(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 20_000);
const SESSIONS = arg('sessions', 10);

const port = await freePort();
const sink = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', '-c', `127.0.0.1:${port}`, '1024'], {
  stdio: 'ignore',
});
await new Promise((r) => setTimeout(r, 300));

const { cm, keys, contact } = await benchCampaign();

const transport = new RelayPool([
  { id: 'sink', url: `smtp://127.0.0.1:${port}`, requireTLS: false, maxConnections: SESSIONS },
]);
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
