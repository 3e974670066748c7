// Domain helpers: registrable domain (small built-in public-suffix subset), edit distance,
// confusable skeletons, punycode, and bundled lists (impersonated brands, free-mail providers,
// URL shorteners, free hosting, risky TLDs). The lists are deliberately short and curated: a
// match is a *signal*, weighed by the model, not a verdict.
import { domainToUnicode } from 'node:url';

const MULTI_SUFFIXES = new Set(
  (
    'co.uk org.uk ac.uk gov.uk ltd.uk plc.uk me.uk com.br net.br org.br gov.br edu.br com.au net.au org.au edu.au gov.au ' +
    'co.jp ne.jp or.jp ac.jp co.nz org.nz co.za org.za com.mx org.mx gob.mx com.ar gob.ar com.co gov.co com.pe gob.pe ' +
    'com.cn net.cn org.cn gov.cn com.hk com.tw com.sg com.my co.in net.in org.in gov.in co.id co.kr or.kr com.tr gov.tr ' +
    'com.ua com.pl com.es com.pt co.il com.vn com.ph com.ng com.eg com.sa co.th ac.th com.ve com.ec com.uy com.bo com.py ' +
    'blogspot.com github.io herokuapp.com azurewebsites.net web.app firebaseapp.com netlify.app vercel.app pages.dev ' +
    'workers.dev r2.dev glitch.me repl.co onrender.com appspot.com cloudfront.net amazonaws.com windows.net wixsite.com ' +
    'weebly.com 000webhostapp.com square.site godaddysites.com myshopify.com ngrok.io ngrok-free.app'
  ).split(' '),
);

export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase().replace(/\.$/, '');
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h;
}

export function isIpLiteral(host: string): boolean {
  const h = normalizeHost(host);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(h)) return true;
  if (/^(0x[0-9a-f]+|\d{8,10})$/i.test(h)) return true; // dword / hex IPv4
  return h.includes(':') && /^[0-9a-f:.]+$/i.test(h);
}

/** eTLD+1 using a built-in list of common multi-label suffixes (no network, no full PSL). */
export function registrableDomain(host: string): string {
  const h = normalizeHost(host);
  if (!h || isIpLiteral(h)) return h;
  const labels = h.split('.').filter(Boolean);
  if (labels.length <= 2) return labels.join('.');
  const last2 = labels.slice(-2).join('.');
  const last3 = labels.slice(-3).join('.');
  if (MULTI_SUFFIXES.has(last3)) return labels.slice(-4).join('.');
  if (MULTI_SUFFIXES.has(last2)) return last3;
  return last2;
}

export function domainOf(address: string | undefined): string {
  if (!address) return '';
  const at = address.lastIndexOf('@');
  return at >= 0 ? normalizeHost(address.slice(at + 1).replace(/[>\s].*$/, '')) : '';
}

export function hostOf(url: string): string {
  const m = /^[a-z][a-z0-9+.-]{0,20}:\/\/([^/?#]{0,500})/i.exec(url.trim());
  if (!m) return '';
  let auth = m[1];
  const at = auth.lastIndexOf('@');
  if (at >= 0) auth = auth.slice(at + 1);
  if (auth.startsWith('[')) return normalizeHost(auth.slice(0, auth.indexOf(']') + 1));
  return normalizeHost(auth.replace(/:\d*$/, ''));
}

/** Registrable domain without its public suffix, e.g. `paypal` for `www.paypal.co.uk`. */
export function domainLabel(host: string): string {
  const reg = registrableDomain(host);
  return reg.split('.')[0] ?? reg;
}

export function levenshtein(a: string, b: string, max = 3): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}

// Confusables: Cyrillic/Greek look-alikes and ASCII tricks mapped to a skeleton.
const CONFUSABLE: Record<string, string> = {
  а: 'a', е: 'e', о: 'o', р: 'p', с: 'c', у: 'y', х: 'x', і: 'i', ј: 'j', ѕ: 's', һ: 'h', ԁ: 'd', ԛ: 'q', ԝ: 'w', ɡ: 'g',
  α: 'a', ο: 'o', ν: 'v', τ: 't', ι: 'i', κ: 'k', ρ: 'p', ε: 'e', μ: 'u', 'ı': 'i', 'ł': 'l', 'ß': 'ss',
  '0': 'o', '1': 'l', '3': 'e', '5': 's', '@': 'a', '$': 's', '|': 'l', '!': 'i',
};

const skeletonCache = new Map<string, string>();

/** A skeleton for confusable comparison: NFKD, diacritics dropped, look-alikes folded, rn→m, vv→w. */
export function skeleton(s: string): string {
  const hit = skeletonCache.get(s);
  if (hit !== undefined) return hit;
  let out = '';
  for (const ch of s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()) out += CONFUSABLE[ch] ?? ch;
  out = out.replace(/rn/g, 'm').replace(/vv/g, 'w').replace(/cl/g, 'd').replace(/i/g, 'l');
  if (skeletonCache.size > 20000) skeletonCache.clear();
  skeletonCache.set(s, out);
  return out;
}

export function unicodeHost(host: string): string {
  if (!host.includes('xn--')) return host;
  try {
    return domainToUnicode(host) || host;
  } catch {
    return host;
  }
}

export interface Brand {
  name: string;
  /** Tokens that identify the brand in a display name or domain label. */
  keys: string[];
  domains: string[];
}

function b(name: string, keys: string, domains: string): Brand {
  return { name, keys: keys.split(' '), domains: domains.split(' ') };
}

/** Commonly impersonated brands (global + Brazil/Iberia/Germany, where the corpus phishing comes from). */
export const BRANDS: Brand[] = [
  b('PayPal', 'paypal', 'paypal.com paypal.me paypal-communication.com paypalobjects.com'),
  b('Microsoft', 'microsoft office365 outlook onedrive sharepoint hotmail', 'microsoft.com office.com office365.com outlook.com live.com hotmail.com sharepoint.com onedrive.com microsoftonline.com'),
  b('Apple', 'apple icloud itunes', 'apple.com icloud.com me.com itunes.com'),
  b('Amazon', 'amazon aws', 'amazon.com amazon.co.uk amazon.de amazon.com.br amazon.es amazonaws.com amazonses.com'),
  b('Google', 'google', 'google.com gmail.com youtube.com googlemail.com'),
  b('Netflix', 'netflix', 'netflix.com'),
  b('Facebook', 'facebook', 'facebook.com facebookmail.com meta.com fb.com'),
  b('Instagram', 'instagram', 'instagram.com facebookmail.com'),
  b('WhatsApp', 'whatsapp', 'whatsapp.com'),
  b('LinkedIn', 'linkedin', 'linkedin.com'),
  b('DHL', 'dhl', 'dhl.com dhl.de'),
  b('FedEx', 'fedex', 'fedex.com'),
  b('UPS', 'ups', 'ups.com'),
  b('USPS', 'usps', 'usps.com'),
  b('DocuSign', 'docusign', 'docusign.com docusign.net'),
  b('Dropbox', 'dropbox', 'dropbox.com dropboxmail.com'),
  b('Adobe', 'adobe', 'adobe.com'),
  b('Wells Fargo', 'wellsfargo', 'wellsfargo.com'),
  b('Chase', 'chase', 'chase.com'),
  b('Bank of America', 'bankofamerica', 'bankofamerica.com'),
  b('HSBC', 'hsbc', 'hsbc.com hsbc.co.uk'),
  b('Santander', 'santander', 'santander.com santander.com.br santander.co.uk santander.es'),
  b('Bradesco', 'bradesco', 'bradesco.com.br'),
  b('Itaú', 'itau', 'itau.com.br'),
  b('Caixa', 'caixa', 'caixa.gov.br'),
  b('Banco do Brasil', 'bancodobrasil', 'bb.com.br'),
  b('Nubank', 'nubank', 'nubank.com.br'),
  b('Mercado Livre', 'mercadolivre mercadolibre mercadopago', 'mercadolivre.com.br mercadolibre.com mercadopago.com mercadopago.com.br'),
  b('Correios', 'correios', 'correios.com.br'),
  b('Livelo', 'livelo', 'livelo.com.br'),
  b('Magazine Luiza', 'magalu magazineluiza', 'magazineluiza.com.br magalu.com'),
  b('Americanas', 'americanas', 'americanas.com.br'),
  b('Receita Federal', 'receitafederal', 'gov.br'),
  b('Coinbase', 'coinbase', 'coinbase.com'),
  b('Binance', 'binance', 'binance.com'),
  b('MetaMask', 'metamask', 'metamask.io'),
  b('Trust Wallet', 'trustwallet', 'trustwallet.com'),
  b('Steam', 'steampowered', 'steampowered.com steamcommunity.com'),
  b('Spotify', 'spotify', 'spotify.com'),
  b('eBay', 'ebay', 'ebay.com ebay.de'),
  b('Sparkasse', 'sparkasse', 'sparkasse.de'),
  b('Deutsche Bank', 'deutschebank', 'db.com deutsche-bank.de'),
  b('Commerzbank', 'commerzbank', 'commerzbank.de'),
  b('Norton', 'norton', 'norton.com nortonlifelock.com'),
  b('McAfee', 'mcafee', 'mcafee.com'),
  b('AT&T', 'atnt', 'att.com att.net'),
  b('Zoom', 'zoom', 'zoom.us'),
  b('WeTransfer', 'wetransfer', 'wetransfer.com'),
];

export const FREEMAIL = new Set(
  (
    'gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.com.br ymail.com hotmail.com hotmail.co.uk hotmail.com.br ' +
    'outlook.com outlook.com.br live.com msn.com aol.com icloud.com me.com mail.com gmx.com gmx.de gmx.net web.de ' +
    'protonmail.com proton.me yandex.com yandex.ru mail.ru zoho.com bol.com.br uol.com.br terra.com.br ig.com.br ' +
    'libero.it qq.com 163.com 126.com tutanota.com hushmail.com inbox.com t-online.de'
  ).split(' '),
);

export const SHORTENERS = new Set(
  (
    'bit.ly bitly.com tinyurl.com t.co goo.gl ow.ly is.gd buff.ly rebrand.ly cutt.ly shorturl.at tiny.cc rb.gy ' +
    't.ly v.gd s.id qrco.de short.io bl.ink lnkd.in shorte.st adf.ly t.me tr.im x.co soo.gd u.to clck.ru urlz.fr ' +
    'encurtador.com.br encr.pw l.ead.me linktr.ee'
  ).split(' '),
);

/** Free hosting / cloud storage commonly abused to host phishing pages (registrable domains). */
export const FREE_HOSTING = new Set(
  (
    'firebasestorage.googleapis.com storage.googleapis.com web.app firebaseapp.com appspot.com ' +
    'netlify.app vercel.app pages.dev workers.dev r2.dev glitch.me repl.co onrender.com herokuapp.com ' +
    'blob.core.windows.net web.core.windows.net azurewebsites.net wixsite.com weebly.com 000webhostapp.com ' +
    'square.site godaddysites.com ipfs.io dweb.link ngrok.io ngrok-free.app backblazeb2.com jimdosite.com ' +
    'webflow.io carrd.co typedream.app'
  ).split(' '),
);

/**
 * Platforms whose tenant subdomains serve files and pages their users upload (a SharePoint or
 * Confluence site, a shared folder, a blog): a tenant named after the sender proves nothing about
 * what the link opens — a compromised account shares a phishing page from its own company's
 * SharePoint. Not a phishing signal (most such links are legitimate); only kept out of "the
 * sender's own site".
 */
export const USER_CONTENT_HOSTS = new Set(
  (
    'sharepoint.com sharepoint-df.com onedrive.com 1drv.ms box.com dropbox.com notion.site atlassian.net ' +
    'gitbook.io github.io gitlab.io wordpress.com blogspot.com medium.com substack.com canva.site'
  ).split(' '),
);

/**
 * TLDs where abuse is a large share of all registrations: cheap new gTLDs and the former free
 * Freenom ccTLDs (tk, ml, ga, cf, gq). Country codes of large countries (ru, cn, su, cc) are not
 * listed although much phishing uses them in absolute numbers: most of their domains are a
 * country's ordinary sites, and flagging them flags every partner there (in the corpus, 34 of
 * 4,169 phishing messages linked to one, and 12 legitimate ones — a Russian newspaper, an open-
 * source project's site).
 */
export const RISKY_TLDS = new Set(
  (
    'zip mov xyz top click link work gq tk ml cf ga icu buzz rest cyou sbs cfd monster quest bar ' +
    'casa support live online site shop store digital lol space fun pw bond'
  ).split(' '),
);

export function tldOf(host: string): string {
  const h = normalizeHost(host);
  return h.slice(h.lastIndexOf('.') + 1);
}

/** Host matches a list entry either exactly, by registrable domain, or as a subdomain of an entry. */
export function hostInList(host: string, list: Set<string>): boolean {
  const h = normalizeHost(host);
  if (list.has(h) || list.has(registrableDomain(h))) return true;
  const labels = h.split('.');
  for (let i = 1; i < labels.length - 1; i++) if (list.has(labels.slice(i).join('.'))) return true;
  return false;
}

export type LookalikeKind = 'edit_distance' | 'homoglyph' | 'punycode' | 'added_words' | 'brand_in_subdomain';

const ADDED_WORDS =
  /(secure|security|login|logon|signin|verify|verification|account|support|update|service|services|help|billing|online|web|mail|auth|seguro|seguranca|atendimento|cliente|conta|acesso|app|portal|id|center|centre|team|alert|notice|confirm|review)/;

/**
 * Is `host` a lookalike of `legit` (a registrable domain the brand/workspace really owns)?
 * Returns the kind of deception, or null. Exact matches and true subdomains return null.
 */
export function lookalike(host: string, legit: string): LookalikeKind | null {
  return lookalikeOf(hostInfo(host), targetInfo(legit));
}

export interface HostInfo {
  host: string;
  reg: string;
  label: string;
  skel: string;
  sub: string;
  puny: boolean;
}

const hostCache = new Map<string, HostInfo>();

export function hostInfo(host: string): HostInfo {
  const hit = hostCache.get(host);
  if (hit) return hit;
  const h = normalizeHost(host);
  const reg = registrableDomain(h);
  const label = domainLabel(unicodeHost(reg));
  const info = {
    host: h,
    reg,
    label,
    skel: skeleton(label),
    sub: h.slice(0, Math.max(0, h.length - reg.length - 1)),
    puny: reg.includes('xn--'),
  };
  if (hostCache.size > 20000) hostCache.clear();
  hostCache.set(host, info);
  return info;
}

export interface TargetInfo {
  reg: string;
  label: string;
  skel: string;
  sub: RegExp;
}

const targetCache = new Map<string, TargetInfo>();

export function targetInfo(legit: string): TargetInfo {
  let t = targetCache.get(legit);
  if (!t) {
    const reg = registrableDomain(legit);
    const label = domainLabel(reg);
    t = { reg, label, skel: skeleton(label), sub: new RegExp(`(^|[.-])${escapeRe(label)}([.-]|$)`) };
    targetCache.set(legit, t);
  }
  return t;
}

/** Brand domain labels that are ordinary words: only homoglyph/punycode/edit-distance tricks count. */
const COMMON_WORD_LABELS = new Set(['outlook', 'live', 'office', 'apple', 'chase', 'zoom', 'meta', 'prime', 'steam', 'target']);

/** Is host `h` a lookalike of target `t` (a registrable domain the brand/workspace really owns)? */
export function lookalikeOf(h: HostInfo, t: TargetInfo): LookalikeKind | null {
  if (!h.reg || h.reg === t.reg) return null;
  const target = t.label;
  const label = h.label;
  if (target.length < 3) return null;
  if (h.puny && h.skel === t.skel) return 'punycode';
  if (label !== target && h.skel === t.skel) return 'homoglyph';
  if (target.length >= 6 && label !== target && Math.abs(label.length - target.length) <= 2) {
    if (levenshtein(label, target, 2) <= (target.length >= 9 ? 2 : 1)) return 'edit_distance';
  }
  if (COMMON_WORD_LABELS.has(target)) return null;
  // Hyphens split the brand too: docu-sign-review.com.
  const flat = label.replace(/-/g, '');
  if (target.length >= 4 && label !== target && flat.includes(target)) {
    const rest = flat.replace(target, '').replace(/[_.0-9]/g, '');
    if (rest === '' || ADDED_WORDS.test(rest)) return 'added_words';
  }
  // paypal.com.evil.example / login-paypal.evil.example
  if (target.length >= 4 && h.sub && h.sub.includes(target) && t.sub.test(h.sub)) return 'brand_in_subdomain';
  return null;
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Brands whose key appears as a word in `text` (display name, subject). */
export function brandsMentioned(text: string, brands: Brand[]): Brand[] {
  const t = ` ${text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9&]+/g, ' ')} `;
  const squashed = t.replace(/\s+/g, '');
  return brands.filter((br) =>
    br.keys.some((k) => t.includes(` ${k} `) || (k.length >= 7 && squashed.includes(k))),
  );
}
