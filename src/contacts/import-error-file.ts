// Contact-import error file: the downloadable CSV of rejected rows.
import type { BadRow } from './import-types.ts';

export const ERROR_FILE_HEADER = 'line,reason,raw\r\n';

function csvCell(value: string): string {
  // Neutralise spreadsheet formulas (CSV injection): the file is meant to be
  // opened in Excel/Sheets by the person who uploaded it.
  const v = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One CSV record (CRLF-terminated) of the error file, for streaming appends. */
export function errorFileCsvRow(bad: BadRow): string {
  return `${bad.line},${csvCell(bad.reason)},${csvCell(bad.raw)}\r\n`;
}

/** The downloadable error file: `line,reason,raw`, RFC 4180 quoting, formula-injection safe. */
export function errorFileCsv(bad: Iterable<BadRow>): string {
  let out = ERROR_FILE_HEADER;
  for (const b of bad) out += errorFileCsvRow(b);
  return out;
}
