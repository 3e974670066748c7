// Render a campaign's template once, personalise it per recipient cheaply.
//
// The full pipeline (Liquid → MJML → sanitise → text part, templates/render.ts)
// costs milliseconds per message, MJML most of all. For a template whose Liquid
// is only output expressions (`{{ contact.first_name | default: 'there' }}`, no
// `{% %}` tags, no `| raw`), each expression is replaced by an inert marker,
// the pipeline runs once, and the rendered HTML and text are cut at the markers
// into static runs and *slots*. Per recipient only the expressions are
// evaluated (pre-parsed, with the same strict engines, so escaping is identical)
// and compose.ts splices the values into pre-encoded MIME. If the pipeline
// dropped or duplicated a marker (it sat somewhere MJML or the sanitiser
// rewrites) the plan falls back to a full render per recipient, which is slower
// but always right.
//
// Tracking is added here too: static http(s) links become per-recipient click
// slots and an open pixel slot goes before </body>. Links whose href is itself
// an expression (the unsubscribe and preference URLs) are left alone.
import { randomBytes } from 'node:crypto';
import { Context, type Liquid, type Template } from 'liquidjs';
import type { BodyPart } from './compose.ts';
import {
  htmlEngine,
  type Rendered,
  renderTemplate,
  type TemplateSource,
  textEngine,
} from '../templates/render.ts';

type Slot =
  | { kind: 'expr'; engine: 'html' | 'text'; tpl: Template[]; upper: boolean }
  | { kind: 'click'; url: string }
  | { kind: 'open' };

export type RenderPlan =
  | {
      mode: 'slots';
      subject: BodyPart[];
      html: BodyPart[];
      text: BodyPart[];
      slots: Map<string, Slot>;
      /** Click targets by slot name, for reports. */
      links: string[];
    }
  | { mode: 'full'; source: TemplateSource; tracking: boolean; reason: string };

export type TrackingUrls = { open: string; click: (url: string) => string };

export type Personalised =
  | { subject: string; html: string; text: string }
  | { subject: string; slots: Record<string, string>; html: BodyPart[]; text: BodyPart[] };

const OUTPUT = /\{\{-?([\s\S]*?)-?\}\}/g;

/** Build the plan. `context` is any valid context (e.g. the sample contact's), used for the one static render. */
export async function planRender(
  source: TemplateSource,
  context: Record<string, unknown>,
  opts: { tracking: boolean },
): Promise<RenderPlan> {
  const all = [source.subject, source.body, source.text ?? ''].join('\n');
  if (all.includes('{%'))
    return { mode: 'full', source, tracking: opts.tracking, reason: 'the template uses Liquid tags' };
  const exprs: string[] = [];
  for (const m of all.matchAll(OUTPUT))
    if (/\|\s*raw\b/.test(m[1]))
      return { mode: 'full', source, tracking: opts.tracking, reason: 'the template uses | raw' };
  const nonce = randomBytes(4)
    .toString('hex')
    .replace(/[0-9]/g, (d) => 'ghijklmnop'[Number(d)]);
  const marker = (i: number) =>
    `zq${nonce}${i.toString(36).replace(/[0-9]/g, (d) => 'ghijklmnop'[Number(d)])}q`;
  const substitute = (s: string) =>
    s.replace(OUTPUT, (whole) => {
      exprs.push(whole.replace(/^\{\{-/, '{{').replace(/-\}\}$/, '}}'));
      return marker(exprs.length - 1);
    });
  const marked: TemplateSource = {
    ...source,
    subject: substitute(source.subject),
    body: substitute(source.body),
    text: source.text == null ? source.text : substitute(source.text),
  };
  const rendered: Rendered = await renderTemplate(marked, context);
  const slots = new Map<string, Slot>();
  const expected = new Map<string, number>();
  for (const s of [marked.subject, marked.body, marked.text ?? ''])
    for (const m of s.matchAll(new RegExp(`zq${nonce}[a-z]+q`, 'g')))
      expected.set(m[0], (expected.get(m[0]) ?? 0) + 1);
  const markerRe = new RegExp(`zq${nonce}([a-z]+)q`, 'gi');
  const seen = new Map<string, number>();
  const slotByExpr = new Map<string, string>();
  const cut = (text: string, engine: 'html' | 'text'): BodyPart[] => {
    const parts: BodyPart[] = [];
    let last = 0;
    for (const m of text.matchAll(markerRe)) {
      const index = Number.parseInt(
        m[1].toLowerCase().replace(/[g-p]/g, (c) => String('ghijklmnop'.indexOf(c))),
        36,
      );
      const upper = m[0] !== m[0].toLowerCase();
      // One slot per distinct expression (and engine, and case): a name used 14 times is evaluated once per recipient.
      const key = `${engine}\u0000${upper}\u0000${exprs[index].replace(/\s+/g, ' ')}`;
      let name = slotByExpr.get(key);
      if (!name) slotByExpr.set(key, (name = `${engine[0]}${slotByExpr.size}${upper ? 'u' : ''}`));
      if (!slots.has(name))
        slots.set(name, {
          kind: 'expr',
          engine,
          tpl: parse(engine === 'html' ? htmlEngine : textEngine, exprs[index]),
          upper,
        });
      seen.set(m[0].toLowerCase(), (seen.get(m[0].toLowerCase()) ?? 0) + 1);
      if (m.index > last) parts.push(text.slice(last, m.index));
      parts.push({ slot: name });
      last = m.index + m[0].length;
    }
    if (last < text.length) parts.push(text.slice(last));
    return parts;
  };
  const subject = cut(rendered.subject, 'text');
  const links: string[] = [];
  let html = rendered.html;
  if (opts.tracking) {
    html = html.replace(
      /(<a\b[^>]*?\shref=")(https?:\/\/[^"]+)(")/gi,
      (_w, a: string, url: string, b: string) => {
        if (markerRe.test(url)) {
          markerRe.lastIndex = 0;
          return `${a}${url}${b}`;
        }
        markerRe.lastIndex = 0;
        links.push(decodeEntities(url));
        return `${a}[[mw:k${links.length - 1}]]${b}`;
      },
    );
    const pixel = '<img src="[[mw:open]]" width="1" height="1" alt="" style="display:none">';
    html = /<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${pixel}</body>`) : `${html}${pixel}`;
  }
  const htmlParts = splitTracking(cut(html, 'html'));
  const textParts = cut(rendered.text, 'text');
  for (const [i, url] of links.entries()) slots.set(`k${i}`, { kind: 'click', url });
  if (opts.tracking) slots.set('open', { kind: 'open' });
  // Every marker must have survived exactly as often as it was written, else the static render changed it.
  const textGenerated = source.text == null;
  for (const [m, n] of expected) {
    const got = seen.get(m) ?? 0;
    if (got !== n && !(textGenerated && got >= n))
      return {
        mode: 'full',
        source,
        tracking: opts.tracking,
        reason: 'an expression sits where the HTML pipeline rewrites it',
      };
  }
  return { mode: 'slots', subject, html: htmlParts, text: textParts, slots, links };
}

function parse(engine: Liquid, expr: string): Template[] {
  return engine.parse(expr);
}

const decodeEntities = (s: string) =>
  s
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
const escapeAttr = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Turn the `[[mw:k3]]` / `[[mw:open]]` markers inserted for tracking into slots. */
function splitTracking(parts: BodyPart[]): BodyPart[] {
  const out: BodyPart[] = [];
  for (const p of parts) {
    if (typeof p !== 'string') {
      out.push(p);
      continue;
    }
    let last = 0;
    for (const m of p.matchAll(/\[\[mw:(k\d+|open)\]\]/g)) {
      if (m.index > last) out.push(p.slice(last, m.index));
      out.push({ slot: m[1] });
      last = m.index + m[0].length;
    }
    if (last < p.length) out.push(p.slice(last));
  }
  return out;
}

/** Evaluate the slots of a plan for one recipient (or render fully in 'full' mode). Throws TemplateError-like errors. */
export async function personaliseRender(
  plan: RenderPlan,
  context: Record<string, unknown>,
  urls: TrackingUrls | null,
): Promise<Personalised> {
  if (plan.mode === 'full') {
    const r = await renderTemplate(plan.source, context);
    let html = r.html;
    if (plan.tracking && urls) {
      html = html.replace(
        /(<a\b[^>]*?\shref=")(https?:\/\/[^"]+)(")/gi,
        (w, a: string, url: string, b: string) =>
          url === context.unsubscribe_url || url === context.preferences_url
            ? w
            : `${a}${escapeAttr(urls.click(decodeEntities(url)))}${b}`,
      );
      const pixel = `<img src="${escapeAttr(urls.open)}" width="1" height="1" alt="" style="display:none">`;
      html = /<\/body>/i.test(html) ? html.replace(/<\/body>/i, `${pixel}</body>`) : `${html}${pixel}`;
    }
    return { subject: r.subject, html, text: r.text };
  }
  const values: Record<string, string> = {};
  // One render context per engine for all of a recipient's slots, as a full render has one for the whole
  // template (its render-time and memory limits then cover them together); the slots are output
  // expressions only, so nothing one evaluates changes what another sees.
  let htmlCtx: Context | undefined;
  let textCtx: Context | undefined;
  for (const [name, slot] of plan.slots) {
    if (slot.kind === 'expr') {
      const engine = slot.engine === 'html' ? htmlEngine : textEngine;
      const ctx =
        slot.engine === 'html'
          ? (htmlCtx ??= new Context(context, htmlEngine.options, { sync: true }, { liquid: htmlEngine }))
          : (textCtx ??= new Context(context, textEngine.options, { sync: true }, { liquid: textEngine }));
      const v = String(engine.renderSync(slot.tpl, ctx));
      values[name] = slot.upper ? v.toUpperCase() : v;
    } else if (slot.kind === 'click')
      values[name] = urls ? escapeAttr(urls.click(slot.url)) : escapeAttr(slot.url);
    else values[name] = urls ? escapeAttr(urls.open) : '';
  }
  const subject = plan.subject
    .map((p) => (typeof p === 'string' ? p : values[p.slot]))
    .join('')
    .replace(/[\r\n]+/g, ' ');
  return { subject, slots: values, html: plan.html, text: plan.text };
}
