// QR codes in images ("quishing"): decoded within bounds, analysed like links, explained.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { parseMessage } from './parse.ts';
import { dataUriImages, imageSize, QR_LIMITS, qrLinks, qrTextInImage } from './qr.ts';
import { scanMessage } from './scan.ts';
import { buildMessage } from './testing.ts';

const LURE_URL = 'https://m365-login.example.top/verify?id=7f3a';
const qrPng = (text: string, width = 300) => QRCode.toBuffer(text, { type: 'png', width, margin: 2 });

function toJpeg(png: Buffer): Buffer {
  const img = PNG.sync.read(png);
  return Buffer.from(jpeg.encode({ data: img.data, width: img.width, height: img.height }, 90).data);
}

/** A PNG whose header claims `side` × `side` pixels (the body is junk: it must never be decoded). */
function claimedPng(side: number): Buffer {
  const png = Buffer.alloc(64);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png);
  png.writeUInt32BE(13, 8);
  png.write('IHDR', 12, 'latin1');
  png.writeUInt32BE(side, 16);
  png.writeUInt32BE(side, 20);
  return png;
}

describe('QR codes in images', () => {
  test('reads a URL from PNG and JPEG images', async () => {
    const png = await qrPng(LURE_URL);
    assert.equal(qrTextInImage(png), LURE_URL);
    assert.equal(qrTextInImage(toJpeg(png)), LURE_URL);
    assert.deepEqual(imageSize(png, 'png'), { width: 300, height: 300 });
    assert.deepEqual(imageSize(toJpeg(png), 'jpeg'), { width: 300, height: 300 });
  });

  test('a large photo-sized QR image is downsampled and still read', async () => {
    const png = await qrPng(LURE_URL, 1800); // 3.24 MP: scanned at about 1 MP
    assert.equal(qrTextInImage(png), LURE_URL);
  });

  test('bounded: oversized headers, tiny images, junk and non-URL codes give nothing and never throw', async () => {
    assert.equal(qrTextInImage(claimedPng(50_000)), null, '2.5 gigapixels claimed: not decoded');
    assert.equal(qrTextInImage(await qrPng(LURE_URL, 2100)), null, 'a real QR code over maxPixels (4.4 MP) is not decoded at all');
    assert.equal(qrTextInImage(PNG.sync.write(new PNG({ width: 30, height: 30 }))), null, 'a logo-sized image is not searched');
    assert.equal(qrTextInImage(claimedPng(500)), null, 'a header without image data');
    assert.equal(qrTextInImage(Buffer.from('GIF89a')), null);
    assert.deepEqual(qrLinks([await qrPng('WIFI:S:office;T:WPA;P:secret;;')]), [], 'only web addresses count');
    const many = await Promise.all([1, 2, 3, 4].map((i) => qrPng(`https://site${i}.example/`)));
    assert.equal(qrLinks(many).length, QR_LIMITS.maxImages, 'at most maxImages images per message');
  });

  test('data: images in the HTML are found', async () => {
    const png = await qrPng(LURE_URL);
    const html = `<p>Scan me</p><img alt="" src="data:image/png;base64,${png.toString('base64')}">`;
    assert.deepEqual(dataUriImages(html).map((b) => Buffer.from(b).equals(png)), [true]);
    const msg = await parseMessage(buildMessage({ from: 'it@example.org', subject: 'x', html }));
    assert.deepEqual(
      msg.links.filter((l) => l.source === 'qr').map((l) => l.href),
      [LURE_URL],
    );
  });

  test('a quishing message: the QR URL is analysed like a link and the reason names it', async () => {
    const raw = buildMessage({
      from: '"Microsoft 365" <no-reply@mfa-notice.example>',
      subject: 'Action required: re-register your authenticator',
      text: 'Your multi-factor authentication expires today. Scan the QR code with your phone to keep access to your mailbox.',
      attachments: [{ filename: 'mfa.png', contentType: 'image/png', content: await qrPng(LURE_URL) }],
    });
    const r = await scanMessage(raw);
    const qr = r.reasons.find((x) => x.signal === 'links.qr_code');
    assert.ok(qr, 'links.qr_code fired');
    assert.match(qr.detail, /m365-login\.example\.top/);
    assert.ok(qr.weight > 0);
    assert.ok(r.reasons.some((x) => x.signal === 'links.risky_tld'), 'the QR URL went through the link signals');
    assert.ok(r.links.some((l) => l.href === LURE_URL));
    assert.equal(r.verdict, 'phishing');

    // The same message without the image: the QR code was the evidence that mattered.
    const plain = await scanMessage(
      buildMessage({
        from: '"Microsoft 365" <no-reply@mfa-notice.example>',
        subject: 'Action required: re-register your authenticator',
        text: 'Your multi-factor authentication expires today. Scan the QR code with your phone to keep access to your mailbox.',
      }),
    );
    assert.ok(plain.score < r.score);
  });
});
