// Attachment signals. Catches: executables and scripts, double extensions (invoice.pdf.exe),
// macro-enabled Office files, HTML/SVG attachments (local phishing pages), disk images and
// shortcuts (ISO/IMG/VHD/LNK/OneNote), archives with risky entries listed from the central
// directory, password-protected archives (especially with the password in the body), zip bombs,
// and file types disguised by a wrong extension.
// Misses: malicious PDFs/Office documents without macros (exploits, embedded links), contents of
// nested or RAR/7z archives (never unpacked), and anything beyond the per-attachment byte cap.
import type { ParsedAttachment } from '../parse.ts';
import type { Hit, SignalContext } from './types.ts';

export const EXECUTABLE =
  /\.(exe|scr|com|pif|bat|cmd|vbs|vbe|js|jse|wsf|wsh|ps1|psm1|msi|msix|appx|jar|hta|cpl|dll|reg|msc|application|gadget|sct|chm|inf|scf|apk|dmg|pkg|sh|run|bin|py|elf)$/i;
const MACRO_OFFICE = /\.(docm|dotm|xlsm|xltm|xlam|xlsb|pptm|potm|ppam|ppsm|sldm)$/i;
const LEGACY_OFFICE = /\.(doc|xls|ppt|rtf)$/i;
const HTML = /\.(s?html?|xhtml|svg|mht|mhtml|shtm)$/i;
const IMAGE_DISK = /\.(iso|img|vhd|vhdx|udf)$/i;
const SHORTCUT = /\.(lnk|url|one|onepkg|library-ms|search-ms|settingcontent-ms|website|xll|iqy|slk)$/i;
const ARCHIVE = /\.(zip|rar|7z|gz|tgz|tar|ace|arj|cab|lzh|z|bz2|xz|r\d\d)$/i;
const DOC_LIKE = /\.(pdf|docx?|xlsx?|pptx?|txt|jpe?g|png|gif|rtf|csv|odt)$/i;

function risky(name: string): string | null {
  if (EXECUTABLE.test(name)) return 'executable';
  if (SHORTCUT.test(name)) return 'shortcut';
  if (IMAGE_DISK.test(name)) return 'disk image';
  if (HTML.test(name)) return 'HTML';
  if (MACRO_OFFICE.test(name)) return 'macro Office';
  return null;
}

const PASSWORD_IN_BODY = /\b(password|passwort|kennwort|senha|contrase[nñ]a|pwd|pass)\s*(?:is|ist|é|es|:|=|-)\s*\S{3,}/i;

export function attachmentSignals({ msg }: SignalContext): Hit[] {
  const hits = new Map<string, Hit>();
  const add = (id: string, detail: string) => {
    if (!hits.has(id)) hits.set(id, { id, detail });
  };
  for (const a of msg.attachments) {
    const name = a.filename.toLowerCase().trim();
    if (EXECUTABLE.test(name)) add('attach.executable', `Executable or script attached: ${a.filename}`);
    const dbl = /\.([a-z0-9]{2,5})\s*\.([a-z0-9]{2,5})$/i.exec(name);
    if (dbl && DOC_LIKE.test(`.${dbl[1]}`) && !DOC_LIKE.test(`.${dbl[2]}`) && !ARCHIVE.test(name))
      add('attach.double_extension', `Double extension disguises the file type: ${a.filename}`);
    if (/\s{5,}\.\w+$/.test(a.filename) || /[\u202e\u202d]/.test(a.filename))
      add('attach.double_extension', `File name hides its extension: ${JSON.stringify(a.filename)}`);
    if (MACRO_OFFICE.test(name)) add('attach.macro_office', `Macro-enabled Office document: ${a.filename}`);
    else if (LEGACY_OFFICE.test(name)) add('attach.legacy_office', `Legacy Office format that can carry macros: ${a.filename}`);
    if (HTML.test(name) || (/text\/html|image\/svg/.test(a.mimeType) && a.filename))
      add('attach.html', `HTML/SVG attachment (opens a local web page): ${a.filename || a.mimeType}`);
    if (IMAGE_DISK.test(name) || a.kind === 'iso') add('attach.disk_image', `Disk image attached: ${a.filename}`);
    if (SHORTCUT.test(name)) add('attach.shortcut', `Shortcut / OneNote / Excel add-in attached: ${a.filename}`);
    if (a.kind && a.kind !== 'zip' && a.kind !== 'iso' && name && !ARCHIVE.test(name) && !/\.(docx|xlsx|pptx|jar|apk|odt)$/.test(name))
      add('attach.disguised_archive', `${a.filename} is really a ${a.kind} archive`);
    if (a.kind === 'zip' && DOC_LIKE.test(name) && !/\.(docx|xlsx|pptx|odt)$/.test(name))
      add('attach.disguised_archive', `${a.filename} is really a ZIP archive`);
    archiveHits(a, msg.bodyText, add);
  }
  return [...hits.values()];
}

function archiveHits(a: ParsedAttachment, body: string, add: (id: string, d: string) => void) {
  const z = a.archive;
  if (!z) {
    if ((a.kind === 'rar' || a.kind === '7z') && PASSWORD_IN_BODY.test(body))
      add('attach.archive_password_in_body', `${a.filename}: archive with a password given in the message`);
    return;
  }
  const isOffice = /\.(docx|xlsx|pptx|odt|ods|jar|apk)$/i.test(a.filename);
  if (isOffice) {
    if (z.entries.some((e) => /vbaProject\.bin$/i.test(e.name))) add('attach.macro_office', `${a.filename} contains VBA macros`);
    return;
  }
  const bad = z.entries.find((e) => risky(e.name.toLowerCase()));
  if (bad) add('attach.archive_risky_entry', `${a.filename} contains ${bad.name} (${risky(bad.name.toLowerCase())})`);
  if (z.encrypted) {
    add('attach.archive_encrypted', `${a.filename} is password-protected (content cannot be scanned)`);
    if (PASSWORD_IN_BODY.test(body)) add('attach.archive_password_in_body', `${a.filename} is encrypted and the password is in the message`);
  }
  const ratio = z.entries.reduce((m, e) => Math.max(m, e.compressedSize > 0 ? e.size / e.compressedSize : 0), 0);
  if (z.declaredSize > 2 ** 30 || ratio > 1000)
    add('attach.zip_bomb', `${a.filename} declares ${(z.declaredSize / 2 ** 20).toFixed(0)} MiB uncompressed (ratio ${ratio.toFixed(0)}:1)`);
  if (z.entries.some((e) => /\.(zip|rar|7z|iso|img)$/i.test(e.name))) add('attach.nested_archive', `${a.filename} contains another archive`);
}
