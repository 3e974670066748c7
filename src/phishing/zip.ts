// Lists the entries of a ZIP archive from its central directory, without decompressing or
// extracting anything. Catches: executables hidden in archives, encrypted (password-protected)
// entries, zip bombs (absurd compression ratios / declared sizes). Misses: contents of nested
// archives (we never inflate), RAR/7z (only identified by magic bytes), truncated archives whose
// central directory is missing (we then report `truncated`).

export interface ZipEntry {
  name: string;
  size: number;
  compressedSize: number;
  encrypted: boolean;
}

export interface ZipListing {
  entries: ZipEntry[];
  /** Central directory missing, damaged, or more entries than the cap. */
  truncated: boolean;
  encrypted: boolean;
  /** Sum of declared uncompressed sizes (may be a lie in hostile archives). */
  declaredSize: number;
}

export const MAX_ZIP_ENTRIES = 1000;

export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && (buf[2] === 3 || buf[2] === 5) && (buf[3] === 4 || buf[3] === 6);
}

/** Identifies other archive/disk-image formats by magic bytes. */
export function archiveKind(buf: Uint8Array): 'zip' | 'rar' | '7z' | 'gzip' | 'iso' | null {
  if (isZip(buf)) return 'zip';
  if (buf.length >= 6 && buf[0] === 0x52 && buf[1] === 0x61 && buf[2] === 0x72 && buf[3] === 0x21) return 'rar';
  if (buf.length >= 6 && buf[0] === 0x37 && buf[1] === 0x7a && buf[2] === 0xbc && buf[3] === 0xaf) return '7z';
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
  if (buf.length > 0x8006) {
    const s = String.fromCharCode(buf[0x8001], buf[0x8002], buf[0x8003], buf[0x8004], buf[0x8005]);
    if (s === 'CD001') return 'iso';
  }
  return null;
}

export function listZip(buf: Uint8Array, maxEntries = MAX_ZIP_ENTRIES): ZipListing {
  const out: ZipListing = { entries: [], truncated: false, encrypted: false, declaredSize: 0 };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // End of central directory record: signature 0x06054b50, at most 65535+22 bytes from the end.
  let eocd = -1;
  const stop = Math.max(0, buf.length - 65557);
  for (let i = buf.length - 22; i >= stop; i--) {
    if (buf[i] === 0x50 && buf[i + 1] === 0x4b && buf[i + 2] === 5 && buf[i + 3] === 6) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    out.truncated = true;
    return listLocalHeaders(buf, view, out, maxEntries);
  }
  const total = view.getUint16(eocd + 10, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  let p = cdOffset;
  for (let n = 0; n < total; n++) {
    if (n >= maxEntries) {
      out.truncated = true;
      break;
    }
    if (p + 46 > buf.length || view.getUint32(p, true) !== 0x02014b50) {
      out.truncated = true;
      break;
    }
    const flags = view.getUint16(p + 8, true);
    const compressedSize = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    if (p + 46 + nameLen > buf.length) {
      out.truncated = true;
      break;
    }
    const name = decodeName(buf.subarray(p + 46, p + 46 + nameLen), (flags & 0x800) !== 0);
    const encrypted = (flags & 1) !== 0;
    out.entries.push({ name, size, compressedSize, encrypted });
    out.encrypted ||= encrypted;
    out.declaredSize += size;
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Fallback when the central directory is missing: walk local file headers. */
function listLocalHeaders(buf: Uint8Array, view: DataView, out: ZipListing, maxEntries: number): ZipListing {
  let p = 0;
  while (p + 30 <= buf.length && out.entries.length < maxEntries && view.getUint32(p, true) === 0x04034b50) {
    const flags = view.getUint16(p + 6, true);
    const compressedSize = view.getUint32(p + 18, true);
    const size = view.getUint32(p + 22, true);
    const nameLen = view.getUint16(p + 26, true);
    const extraLen = view.getUint16(p + 28, true);
    if (p + 30 + nameLen > buf.length) break;
    const name = decodeName(buf.subarray(p + 30, p + 30 + nameLen), (flags & 0x800) !== 0);
    const encrypted = (flags & 1) !== 0;
    out.entries.push({ name, size, compressedSize, encrypted });
    out.encrypted ||= encrypted;
    out.declaredSize += size;
    // Data descriptor (bit 3) means sizes are unknown here: stop walking.
    if (flags & 8) break;
    p += 30 + nameLen + extraLen + compressedSize;
  }
  return out;
}

function decodeName(bytes: Uint8Array, utf8: boolean): string {
  const s = utf8 ? new TextDecoder('utf-8').decode(bytes) : Buffer.from(bytes).toString('latin1');
  return s.slice(0, 512);
}
