import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, test } from 'node:test';
import { isMbox, scanPaths, splitMbox } from './cli.ts';
import { buildMessage } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'mw-phish-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const phish = buildMessage({
  from: '"Microsoft Account Team" <no-reply@micros0ft-support.example>',
  subject: 'Your account has been suspended',
  html: '<a href="http://203.0.113.9/login">https://login.microsoftonline.com</a><form><input type="password"></form> Verify your account within 24 hours.',
});
const ok = buildMessage({ from: 'Ann <ann@example.org>', subject: 'Lunch?', text: 'Shall we get lunch at noon?' });

function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('mbox', () => {
  test('splits on From_ lines after blank lines and unquotes >From', () => {
    const mbox = Buffer.from(
      'From alice@example.org Mon May  6 10:00:00 2024\nFrom: alice@example.org\nSubject: one\n\nhello\n>From the start\n\nFrom bob@example.org Mon May  6 11:00:00 2024\nFrom: bob@example.org\nSubject: two\n\nFrom here on, body text\n',
    );
    assert.ok(isMbox(mbox));
    const msgs = splitMbox(mbox);
    assert.equal(msgs.length, 2);
    assert.match(msgs[0].toString(), /Subject: one[\s\S]*\nFrom the start/);
    assert.match(msgs[1].toString(), /Subject: two[\s\S]*From here on, body text/);
    assert.ok(!isMbox(ok));
  });
});

describe('scanPaths', () => {
  mkdirSync(join(dir, 'inbox/nested'), { recursive: true });
  writeFileSync(join(dir, 'inbox/phish.eml'), phish);
  writeFileSync(join(dir, 'inbox/nested/ok.eml'), ok);
  writeFileSync(join(dir, 'inbox/ignored.png'), 'not mail');
  writeFileSync(join(dir, 'box.mbox'), Buffer.concat([Buffer.from('From x@y Mon May  6 10:00:00 2024\n'), ok, Buffer.from('\nFrom x@y Mon May  6 10:00:00 2024\n'), phish]));

  test('jsonl: one object per message with file, score, verdict, reasons; errors are lines, not crashes', async () => {
    const out = collect();
    const summary = await scanPaths([join(dir, 'inbox'), join(dir, 'box.mbox'), join(dir, 'missing.eml')], {
      format: 'jsonl',
      out: out.stream,
      progress: false,
      concurrency: 3,
    });
    const lines = out.text().trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(summary.messages, 4);
    assert.equal(summary.errors, 1);
    assert.equal(lines.length, 5);
    const err = lines.find((l) => l.error);
    assert.match(err.file, /missing\.eml$/);
    const scored = lines.filter((l) => !l.error);
    for (const l of scored) {
      assert.equal(typeof l.file, 'string');
      assert.ok(l.score >= 0 && l.score <= 100);
      assert.ok(['phishing', 'suspicious', 'clean'].includes(l.verdict));
      assert.ok(Array.isArray(l.reasons));
    }
    const phishLine = scored.find((l) => l.file.endsWith('phish.eml'));
    assert.notEqual(phishLine.verdict, 'clean');
    const mboxLines = scored.filter((l) => l.file.endsWith('box.mbox'));
    assert.deepEqual(mboxLines.map((l) => l.index), [0, 1]);
    assert.ok(!scored.some((l) => l.file.endsWith('.png')));
    assert.equal(summary.verdicts.phishing + summary.verdicts.suspicious + summary.verdicts.clean, 4);
  });

  test('symlink loops are walked once', async () => {
    mkdirSync(join(dir, 'loop'), { recursive: true });
    writeFileSync(join(dir, 'loop/a.eml'), ok);
    symlinkSync(join(dir, 'loop'), join(dir, 'loop/again'));
    const summary = await scanPaths([join(dir, 'loop')], { format: 'jsonl', out: collect().stream, progress: false });
    assert.equal(summary.messages, 1);
  });

  test('text: a table row per message and a summary', async () => {
    const out = collect();
    await scanPaths([join(dir, 'inbox')], { format: 'text', out: out.stream, progress: false });
    const t = out.text();
    assert.match(t, /^VERDICT\s+SCORE\s+FILE/);
    assert.match(t, /phish\.eml/);
    assert.match(t, /ok\.eml/);
    assert.match(t, /2 messages in 2 files \(0 errors\)/);
  });

  test('draws a progress bar only on a TTY', async () => {
    const out = collect();
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    const bar: Buffer[] = [];
    tty.on('data', (c) => bar.push(c));
    await scanPaths([join(dir, 'inbox')], { format: 'jsonl', out: out.stream, progressStream: tty });
    assert.match(Buffer.concat(bar).toString(), /\[#+\] 2\/2 files/);
    const notty = Object.assign(new PassThrough(), { isTTY: false });
    const none: Buffer[] = [];
    notty.on('data', (c) => none.push(c));
    await scanPaths([join(dir, 'inbox')], { format: 'jsonl', out: collect().stream, progressStream: notty });
    assert.equal(none.length, 0);
  });
});
