// A safe view of a suspicious message for analysts: headers, plain text, and HTML that is
// sanitised server-side — no scripts, styles, forms, event handlers or iframes; links
// disarmed (shown as text followed by their real target, never clickable); remote content
// (images, CSS) blocked. Bounded: the rendering never reads more than the parser limits.
import PostalMime from 'postal-mime';
import sanitizeHtml from 'sanitize-html';

const MAX_HTML = 2 * 1024 * 1024;
const MAX_TEXT = 512 * 1024;
const MAX_HEADERS = 300;

export type SafeRendering = {
  headers: { name: string; value: string }[];
  text: string | null;
  /** Sanitised HTML with disarmed links; safe to insert into a page (still best shown in a sandboxed iframe). */
  html: string | null;
  remoteContentBlocked: number;
  disarmedLinks: number;
  error?: string;
};

/** Unfolded header fields of the top-level header block, in order. */
export function headerFields(raw: Buffer): { name: string; value: string }[] {
  const head = raw.subarray(0, 256 * 1024).toString('utf8');
  const end = head.search(/\r?\n\r?\n/);
  const block = end >= 0 ? head.slice(0, end) : head;
  const out: { name: string; value: string }[] = [];
  for (const line of block.split(/\r?\n(?![ \t])/)) {
    const m = /^([!-9;-~]{1,100}):[ \t]*([\s\S]*)$/.exec(line);
    if (!m) continue;
    out.push({ name: m[1], value: m[2].replace(/\r?\n[ \t]+/g, ' ').slice(0, 4000) });
    if (out.length >= MAX_HEADERS) break;
  }
  return out;
}

/** Sanitise HTML for display; links become `<span class="mw-link">text</span><span class="mw-link-target"> [target]</span>`. */
export function disarmHtml(html: string): { html: string; remoteContentBlocked: number; disarmedLinks: number } {
  let blocked = 0;
  let links = 0;
  const clean = sanitizeHtml(html.slice(0, MAX_HTML), {
    allowedTags: [...sanitizeHtml.defaults.allowedTags.filter((t) => t !== 'a'), 'a', 'img', 'center', 'font'],
    allowedAttributes: {
      a: ['data-mw-href'],
      img: ['src', 'alt', 'width', 'height', 'title'],
      td: ['align', 'valign', 'width', 'colspan', 'rowspan'],
      th: ['align', 'valign', 'width', 'colspan', 'rowspan'],
      table: ['width', 'align', 'cellpadding', 'cellspacing', 'border'],
      '*': ['align'],
    },
    allowedSchemes: [],
    allowedSchemesByTag: { img: ['data'] },
    allowProtocolRelative: false,
    transformTags: {
      a: (tagName, attribs) => {
        const href = (attribs.href ?? '').trim().slice(0, 2000);
        const out: Record<string, string> = {};
        if (href) out['data-mw-href'] = href;
        return { tagName, attribs: out };
      },
      // forms and inputs are dropped by the allow-list; say that they were there
      img: (tagName, attribs) => {
        if (attribs.src && !/^data:image\//i.test(attribs.src)) {
          blocked++;
          const { src: _src, ...rest } = attribs;
          return { tagName, attribs: { ...rest, alt: `[remote image blocked${rest.alt ? `: ${rest.alt.slice(0, 100)}` : ''}]` } };
        }
        return { tagName, attribs };
      },
    },
  });
  // sanitize-html escapes <, >, & and " in attribute values and text, so its output can be
  // tokenised safely: turn every <a> into an inert span and print its target after it.
  const stack: string[] = [];
  const disarmed = clean.replace(/<a(?: data-mw-href="([^"]*)")?>|<\/a>/g, (tag, href: string | undefined) => {
    if (tag === '</a>') {
      const target = stack.pop();
      return target ? `</span><span class="mw-link-target"> [${target}]</span>` : '</span>';
    }
    if (href) links++;
    stack.push(href ?? '');
    return href ? `<span class="mw-link" title="${href}">` : '<span>';
  });
  return { html: disarmed, remoteContentBlocked: blocked, disarmedLinks: links };
}

export async function renderSafely(raw: Buffer): Promise<SafeRendering> {
  const headers = headerFields(raw);
  try {
    const email = await PostalMime.parse(raw, { attachmentEncoding: 'arraybuffer', maxNestingDepth: 20, maxHeadersSize: 256 * 1024 });
    const text = email.text ? email.text.slice(0, MAX_TEXT) : null;
    if (!email.html) return { headers, text, html: null, remoteContentBlocked: 0, disarmedLinks: 0 };
    return { headers, text, ...disarmHtml(email.html) };
  } catch (err) {
    return { headers, text: null, html: null, remoteContentBlocked: 0, disarmedLinks: 0, error: `Could not parse the message: ${(err as Error).message}`.slice(0, 300) };
  }
}
