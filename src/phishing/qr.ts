// QR codes in images ("quishing"): a phishing message shows a QR code instead of a link, so the
// URL is not in the text for filters (or for us) to see, and the victim opens it on a phone, away
// from the company's protections. The parser decodes QR codes in the message's PNG and JPEG images
// (attached, inline cid: parts, or data: URIs in the HTML) with jsQR over pngjs / jpeg-js pixels,
// and the URLs found are analysed like every other link, plus the `links.qr_code` signal.
//
// Bounded like the rest of the parser: at most QR_LIMITS.maxImages images per message, each at
// most maxImageBytes and maxPixels (the dimensions are read from the image header *before*
// decoding, so a small file claiming 50,000 × 50,000 pixels costs nothing), downsampled to at most
// scanPixels before the QR search. Anything that fails to decode is skipped, never thrown.
import jpeg from 'jpeg-js';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS with an `export default` declaration: Node hands over module.exports, which
// carries the function as `.default` too (the form TypeScript's types describe).
const jsQR = jsQRModule.default;

export const QR_LIMITS = {
  maxImages: 3,
  maxImageBytes: 2 * 1024 * 1024,
  /** Largest image decoded (pixels). */
  maxPixels: 4_000_000,
  /** Larger images are downsampled to about this many pixels before the QR search (jsQR costs ~4 µs a pixel). */
  scanPixels: 500_000,
  /** Smaller than this on either side is a logo or a tracking pixel, not a QR code anyone scans. */
  minSide: 40,
} as const;

type ImageKind = 'png' | 'jpeg';
type Rgba = { data: Uint8Array; width: number; height: number };

export function imageKind(bytes: Uint8Array): ImageKind | null {
  if (bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return null;
}

/** Width and height from the image header, without decoding (PNG IHDR; JPEG SOFn marker). */
export function imageSize(bytes: Uint8Array, kind: ImageKind): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (kind === 'png') return bytes.length >= 24 ? { width: view.getUint32(16), height: view.getUint32(20) } : null;
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    const len = view.getUint16(i + 2);
    // SOF0–SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: view.getUint16(i + 5), width: view.getUint16(i + 7) };
    if (len < 2) return null;
    i += 2 + len;
  }
  return null;
}

function decodePixels(bytes: Uint8Array, kind: ImageKind): Rgba {
  if (kind === 'png') {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return { data: png.data, width: png.width, height: png.height };
  }
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: QR_LIMITS.maxPixels / 1e6, maxMemoryUsageInMB: 64 });
  return { data: img.data, width: img.width, height: img.height };
}

/** Nearest-neighbour downsampling by an integer step: QR modules stay sharp, and the search cost falls with the square. */
function downsample(img: Rgba, step: number): Rgba {
  if (step <= 1) return img;
  const width = Math.floor(img.width / step);
  const height = Math.floor(img.height / step);
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const from = ((y * step) * img.width + x * step) * 4;
      out.set(img.data.subarray(from, from + 4), (y * width + x) * 4);
    }
  return { data: out, width, height };
}

/** The text of the QR code in one image, or null (no image, too big, no QR code, undecodable). */
export function qrTextInImage(bytes: Uint8Array): string | null {
  if (bytes.length > QR_LIMITS.maxImageBytes) return null;
  const kind = imageKind(bytes);
  if (!kind) return null;
  const size = imageSize(bytes, kind);
  if (!size || size.width < QR_LIMITS.minSide || size.height < QR_LIMITS.minSide) return null;
  if (size.width * size.height > QR_LIMITS.maxPixels) return null;
  try {
    const full = decodePixels(bytes, kind);
    const img = downsample(full, Math.max(1, Math.floor(Math.sqrt((full.width * full.height) / QR_LIMITS.scanPixels))));
    const found = jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.width * img.height * 4), img.width, img.height);
    return found?.data ? found.data.slice(0, 2048) : null;
  } catch {
    return null;
  }
}

const DATA_IMAGE = /<img\b[^>]*?\bsrc\s*=\s*["']?data:image\/(?:png|jpe?g);base64,([a-z0-9+/=\s]{100,2800000})/gi;

/** Base64 images embedded in the HTML as data: URIs (at most `max`). */
export function dataUriImages(html: string, max: number = QR_LIMITS.maxImages): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of html.matchAll(DATA_IMAGE)) {
    out.push(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
    if (out.length >= max) break;
  }
  return out;
}

/** http(s) URLs held by QR codes in the given images (the first QR_LIMITS.maxImages images that are PNG or JPEG). */
export function qrLinks(images: Uint8Array[]): string[] {
  const urls: string[] = [];
  let tried = 0;
  for (const bytes of images) {
    if (tried >= QR_LIMITS.maxImages) break;
    if (!imageKind(bytes)) continue;
    tried++;
    const text = qrTextInImage(bytes)?.trim();
    if (text && /^https?:\/\/\S+$/i.test(text) && !urls.includes(text)) urls.push(text);
  }
  return urls;
}
