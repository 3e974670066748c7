// Link and form signals. Catches: anchor text showing one domain while the href goes to another,
// IP-literal hosts, URL shorteners and open redirects (hiding the destination), risky TLDs,
// `user@host` authority tricks, data:/javascript: URLs, pages on free hosting / cloud storage,
// lookalike brand or workspace domains in links, punycode hosts, HTML forms and password or
// credential fields in the body or in HTML/SVG attachments.
// URLs in QR codes in images (qr.ts) are analysed like the others and add `links.qr_code`.
// Misses: the destination of shorteners and redirects (we never fetch URLs), text in images, links in PDFs, clean-looking compromised sites, and phishing pages on big platforms
// that also host legitimate content.
import {
  FREEMAIL,
  FREE_HOSTING,
  hostInList,
  hostOf,
  isIpLiteral,
  hostInfo,
  lookalike,
  lookalikeOf,
  RISKY_TLDS,
  registrableDomain,
  SHORTENERS,
  targetInfo,
  tldOf,
  unicodeHost,
} from '../domains.ts';
import { fromAuthenticated } from './auth.ts';
import type { Hit, SignalContext } from './types.ts';

const REDIRECT_PARAM = /[?&](url|u|q|redirect|redirect_uri|redirect_url|redir|target|dest|destination|next|goto|link|to|continue|return|returnurl)=(https?(:|%3a)(\/|%2f){2}[^&#]{3,})/i;

function visibleDomain(text: string): string | null {
  const m = /(?:https?:\/\/)?((?:[a-z0-9-]{1,63}\.){1,6}(?:com|net|org|gov|edu|io|co|br|de|es|pt|uk|us|info|biz|me|app|[a-z]{2}))(?=$|[/\s:?#])/i.exec(
    text.trim(),
  );
  return m ? m[1].toLowerCase() : null;
}

const trackerCache = new WeakMap<object, { auth: object; fromDomain: string; out: Set<string> }>();

/**
 * Registrable domains an authenticated sender links through while the link text shows the
 * sender's own domain: "www.brand.com" → click.esp.example. The From domain is authenticated, so
 * the text names the real sender, and the href is that sender's click tracker, whichever e-mail
 * service provider runs it. (Unauthenticated, the same link is the classic deception: text shows
 * the brand, href goes elsewhere.) No phishing message in the corpus has such a link.
 */
export function senderTrackers({ msg, auth, fromDomain }: SignalContext): Set<string> {
  // Both link and structure signals ask; one pass per message (and per authentication result).
  const known = trackerCache.get(msg);
  if (known && known.auth === auth && known.fromDomain === fromDomain) return known.out;
  const out = new Set<string>();
  trackerCache.set(msg, { auth, fromDomain, out });
  const fromReg = fromDomain ? registrableDomain(fromDomain) : '';
  if (!fromReg || FREEMAIL.has(fromReg) || !fromAuthenticated(auth, fromDomain)) return out;
  for (const link of msg.links) {
    if (link.source !== 'html' || !link.text || !/^https?:/i.test(link.href)) continue;
    const vd = visibleDomain(link.text);
    const reg = registrableDomain(hostOf(link.href));
    if (vd && reg && reg !== fromReg && registrableDomain(vd) === fromReg) out.add(reg);
  }
  return out;
}

export function linkSignals(ctx: SignalContext): Hit[] {
  const { msg, workspace, brands, fromDomain } = ctx;
  const trackers = senderTrackers(ctx);
  const found = new Map<string, Hit>();
  const add = (id: string, detail: string) => {
    if (!found.has(id)) found.set(id, { id, detail });
  };
  const own = (workspace.ownDomains ?? []).map((d) => registrableDomain(d));
  const senderReg = fromDomain ? registrableDomain(fromDomain) : '';
  const checked = new Set<string>();
  for (const link of msg.links) {
    const href = link.href.trim();
    if (/^javascript:/i.test(href)) {
      // Mail clients do not run javascript: links, so in the body one harms nobody (2002 newsletters
      // had "print this page" links; no phishing in the corpus has one): shown, not scored. In an
      // HTML attachment, which opens in a browser, it runs.
      if (link.source === 'attachment') add('links.javascript_or_data', 'A link in an HTML attachment runs javascript: code');
      else add('links.javascript_in_body', 'A link in the message runs javascript: code (mail clients do not run it)');
      continue;
    }
    if (/^data:/i.test(href)) {
      add('links.javascript_or_data', 'A link opens a data: URL (an inline page that hides its origin)');
      continue;
    }
    if (!/^https?:/i.test(href)) continue;
    const host = hostOf(href);
    if (!host) continue;
    if (link.source === 'qr') add('links.qr_code', `An image holds a QR code that opens ${truncate(href)} (read on a phone, away from link protection)`);
    const reg = registrableDomain(host);
    const authority = /^[a-z]+:\/\/([^/?#]{0,500})/i.exec(href)?.[1] ?? '';
    if (authority.includes('@')) add('links.at_in_authority', `Link ${truncate(href)} hides its real host ${host} after an "@"`);
    if (isIpLiteral(host)) add('links.ip_host', `Link points to a bare IP address (${host})`);
    if (hostInList(host, SHORTENERS)) add('links.shortener', `Shortened link hides its destination (${host})`);
    if (REDIRECT_PARAM.test(href)) {
      const target = decodeURIComponentSafe(REDIRECT_PARAM.exec(href)![2]);
      const th = registrableDomain(hostOf(target));
      if (th && th !== reg) add('links.open_redirect', `Link through ${host} redirects to ${th}`);
    }
    if (link.source !== 'attachment' && RISKY_TLDS.has(tldOf(host))) add('links.risky_tld', `Link to a domain under .${tldOf(host)} (${host})`);
    if (hostInList(host, FREE_HOSTING)) add('links.free_hosting', `Link to a page on free hosting / cloud storage (${host})`);
    if (host.includes('xn--')) add('links.punycode', `Link host uses punycode: ${host} → ${unicodeHost(host)}`);
    for (const o of own) {
      const k = lookalike(host, o);
      if (k) add('ws.link_lookalike_own_domain', `Link host ${host} imitates our domain ${o} (${k.replace(/_/g, ' ')})`);
    }
    if (!found.has('links.lookalike_brand') && !checked.has(reg)) {
      checked.add(reg);
      for (const br of brands) {
        if (br.domains.some((d) => targetInfo(d).reg === reg)) continue;
        const hi = hostInfo(host);
        const d = br.domains.find((x) => lookalikeOf(hi, targetInfo(x)));
        if (d) {
          add('links.lookalike_brand', `Link host ${host} imitates ${br.name} (${d})`);
          break;
        }
      }
    }
    // Visible text shows a different domain than the href.
    if (link.text) {
      const vd = visibleDomain(link.text);
      if (vd) {
        const vreg = registrableDomain(vd);
        // A link into the sender's own domain that shows another site (a shop's redirect to the
        // product it sells, a newsletter's tracker) leads where the From header says it comes from;
        // a deceptive link leads somewhere else. Not when the receiving server's results say the
        // From domain is not authenticated: then "the sender's own domain" may be anyone's.
        const intoSender = reg === senderReg && (ctx.auth.source === 'none' || fromAuthenticated(ctx.auth, fromDomain));
        if (vreg && vreg !== reg && !intoSender && !trackers.has(reg) && !hostInList(host, SHORTENERS) && !isClickTracker(host))
          add('links.text_href_mismatch', `Link text shows ${vd} but goes to ${host}`);
      }
    }
    if (link.source === 'attachment') add('attach.html_with_links', `An HTML/SVG attachment links to ${host}`);
  }
  const f = msg.forms;
  if (f.passwordFields > 0) found.set('forms.password_field', { id: 'forms.password_field', detail: 'Contains a password input field (credential harvesting form)' });
  else if (f.credentialFields > 0)
    found.set('forms.credential_field', { id: 'forms.credential_field', detail: 'Contains input fields for e-mail/card/login data' });
  // A form that posts back to the sender's own site (a newsletter's search or subscribe box) is
  // not where credentials get harvested; forms posting elsewhere, or nowhere, are shown.
  const hosts = f.actions.map((a) => hostOf(a));
  const onSite = senderReg !== '' && hosts.length === f.forms && hosts.every((h) => h && registrableDomain(h) === senderReg);
  if (f.forms > 0 && !onSite) {
    const act = hosts.find((h) => h && registrableDomain(h) !== senderReg) ?? hosts.find(Boolean);
    found.set('forms.html_form', { id: 'forms.html_form', detail: `Contains an HTML form${act ? ` posting to ${act}` : ''}` });
  }
  return [...found.values()];
}

// E-mail service providers rewrite every link through a click tracker, so the visible domain and
// the href differ in most legitimate marketing. Those hosts are not counted as a mismatch
// (open redirects through them still are, via links.open_redirect).
const TRACKER_PREFIX = /^([a-z0-9-]*(click|track|trk|link|lnk|redirect|mail|news|bounce)[a-z0-9-]*|e|t|go|r|url\d*|ct|cl|em|l|out)\d*\./;
const ESP_DOMAINS = new Set(
  'sendgrid.net list-manage.com mcsv.net mailchimp.com hubspotlinks.com hs-sites.com mandrillapp.com mailgun.org sparkpostmail.com exacttarget.com rs6.net constantcontact.com cmail19.com cmail20.com createsend.com klclick.com klaviyo.com mlsend.com sendinblue.com brevo.com mailjet.com mjt.lu awstrack.me amazonses.com salesforce.com marketo.com mktoweb.com doubleclick.net acemlna.com acemlnb.com acemlnc.com acemlnd.com customeriomail.com iterable.com omnisend.com e2ma.net sailthru.com mailerlite.com convertkit-mail.com convertkit-mail2.com'.split(
    ' ',
  ),
);

export function isClickTracker(host: string): boolean {
  return TRACKER_PREFIX.test(host) || hostInList(host, ESP_DOMAINS);
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function truncate(s: string, n = 80): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
