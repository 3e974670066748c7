// Structural signals: how a message is built rather than which words it uses, so they carry over
// from one mail collection to another. Catches: a From address whose domain is not a valid host
// name; subjects or display names written in "mathematical" styled letters (𝐘𝐎𝐔𝐑, 𝙁𝙍𝙀𝙀) to
// dodge filters; an HTML body that is only images and a link; most links going to one domain unrelated to the sender (and not an e-mail
// service provider's click tracker); the recipient greeted by their e-mail address (the sender
// does not know their name); a well-known brand named in the subject or display name (or in a
// request to "sign in with your <brand> account") while neither the sender nor any link belongs to
// that brand; a display name claiming a role
// ("Support", "Security Team") that has nothing to do with the sending domain.
// Legitimate evidence (negative weight): most of many links go to the sender's own site; an
// authenticated sender (fromAuthenticated in auth.ts) whose every link stays on its own domain.
// Misses: well-built phishing from a lookalike domain with normal text, image-heavy legitimate
// marketing (only the image-only, text-less case is flagged) and brands not on the bundled list.
import { brandsMentioned, domainLabel, FREE_HOSTING, FREEMAIL, hostInList, hostOf, registrableDomain, USER_CONTENT_HOSTS } from '../domains.ts';
import { fromAuthenticated } from './auth.ts';
import { isClickTracker, senderTrackers } from './links.ts';
import type { Hit, SignalContext } from './types.ts';

const VALID_DOMAIN = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{2,59})$/i;
const STYLED_LETTERS = /[\u{1D400}-\u{1D7FF}]/u;
const ROLE_NAME =
  /\b(support|suporte|soporte|team|equipe|equipo|service|servi[cç]o|servicio|kundenservice|atendimento|departamento|department|security|seguran[cç]a|seguridad|sicherheit|notification|notifica[cç][aã]o|billing|cobran[cç]a|account|conta|cuenta|konto|customer care|help ?desk|administrator|admin|recovery|rewards?|recompensas?|beloningen|gutschein|gift ?card|promotions?)\b/i;

// "Hello user@example.com," — a greeting whose name is the recipient's address (marked \u0000).
const GREETING =
  /(^|\n)\s*(dear|hello|hi|hey|good (morning|day)|ola|olá|oi|prezad[oa]|car[oa]|hallo|guten tag|liebe[r]?|sehr geehrte[r]?|hola|estimad[oa]|bonjour|cher|ch[eè]re|beste|hoi)?\s*,?\s*\u0000\s*[,!:]/;

// "sign in with your Microsoft 365 account", "log in using your Google credentials": the words naming whose account.
const SIGN_IN_WITH = /\b(?:sign|log)\s?-?in (?:with|using|to) (?:your )?((?:[\w.&-]+ ){1,3})(?:account|credentials|e-?mail|password|login)\b/i;

function isRelated(reg: string, fromReg: string): boolean {
  if (!reg || !fromReg) return false;
  if (reg === fromReg) return true;
  const a = domainLabel(reg);
  const b = domainLabel(fromReg);
  return (b.length >= 4 && reg.includes(b)) || (a.length >= 4 && fromReg.includes(a));
}

/**
 * A display name claiming a role ("Support", "IT Helpdesk") that shares nothing with the sending
 * domain. The workspace's own staff write as "HR Team" or "IT Support" from its own domains.
 */
function claimsUnrelatedRole(display: string, fromReg: string, ownDomains: string[]): boolean {
  if (!display || !fromReg || FREEMAIL.has(fromReg) || !ROLE_NAME.test(display)) return false;
  if (ownDomains.some((d) => registrableDomain(d) === fromReg)) return false;
  const squashed = display.toLowerCase().replace(/[^a-z0-9]/g, '');
  const parts = domainLabel(fromReg).split('-').filter((t) => t.length >= 3);
  return !parts.some((t) => squashed.includes(t));
}

export function structureSignals(ctx: SignalContext): Hit[] {
  const { msg, brands, fromDomain, auth } = ctx;
  const hits: Hit[] = [];
  const fromReg = registrableDomain(fromDomain);
  const display = msg.from?.name ?? '';
  if (msg.from?.address && !VALID_DOMAIN.test(fromDomain))
    hits.push({
      id: 'sender.invalid_domain',
      detail: fromDomain
        ? `The sender's domain "${fromDomain.slice(0, 80)}" is not a valid host name`
        : `The sender's address "${msg.from.address.slice(0, 80)}" has no domain`,
    });
  if (STYLED_LETTERS.test(msg.subject) || STYLED_LETTERS.test(display))
    hits.push({ id: 'content.styled_letters', detail: 'Subject or sender name written in styled Unicode letters (a filter-evasion trick)' });

  const web: string[] = [];
  const anchors: string[] = [];
  for (const l of msg.links) {
    if (l.source === 'attachment' || !/^https?:/i.test(l.href)) continue;
    const h = hostOf(l.href);
    if (!h) continue;
    web.push(h);
    if (l.source === 'html') anchors.push(h);
  }
  const text = msg.bodyText.replace(/\s+/g, ' ').trim();
  // A short text with a link alone is not flagged: feed items and notifications look like that.
  if (web.length > 0 && msg.html && /<img\b/i.test(msg.html) && text.length < 200)
    hits.push({ id: 'content.image_only', detail: `The body is images and a link with ${text.length} characters of text` });

  // Legitimate evidence: a newsletter or site notification links mostly into the sender's own
  // site; phishing points its few links at the page that harvests (rarely the sending domain).
  if (fromReg && !FREEMAIL.has(fromReg)) {
    const own = anchors.filter((h) => isRelated(registrableDomain(h), fromReg)).length;
    if (own >= 5 && own / anchors.length >= 0.5)
      hits.push({ id: 'links.sender_site', detail: `${own} of ${anchors.length} links go to the sender's own site ${fromReg} (newsletter structure)` });
  }

  // Legitimate evidence: authenticated mail that sends you only to its own site. The From domain is
  // authenticated (the sender is who it says it is) and every web link stays on that domain: a
  // password reset, a receipt, a sign-in alert — transactional mail, whose wording (password,
  // payment, "secure your account") is a phishing lure's too. Phishing needs the victim on a page
  // it controls: from its own domain that is a lookalike (sender.lookalike_*) or a domain unrelated
  // to the brand it names (brand signals), which outweigh this.
  // "Its own site" also covers the other domains of a bundled brand it is (Microsoft's mail from
  // microsoft.com linking to live.com) and its tenant on a platform (acme.com linking to
  // acme.us.auth0.com or acme.zendesk.com; not on free hosting, where anyone picks the name, nor on
  // a platform that serves its users' uploads, such as the company's own SharePoint).
  const brandRegs = new Set(
    brands.filter((b) => b.domains.some((d) => registrableDomain(d) === fromReg)).flatMap((b) => b.domains.map((d) => registrableDomain(d))),
  );
  const ownLabel = domainLabel(fromReg);
  const isOwnSite = (h: string) => {
    const reg = registrableDomain(h);
    if (reg === fromReg || brandRegs.has(reg)) return true;
    const tenant = h.slice(0, Math.max(0, h.length - reg.length - 1)).split('.');
    return ownLabel.length >= 4 && tenant.includes(ownLabel) && !hostInList(h, FREE_HOSTING) && !hostInList(h, USER_CONTENT_HOSTS);
  };
  // Authentication proves the sender is fromReg; a display name naming a brand that domain does not
  // belong to ("DocuSign" <dse@docu-sign-review.com>) or a bare role that has nothing to do with it
  // ("IT Helpdesk" <it@dentalcare-smiles.example>) tells the reader it is someone else, so the credit
  // does not apply. A company's own transactional mail names the company ("Acme Security").
  const notSender = (br: { domains: string[] }) => !br.domains.some((d) => registrableDomain(d) === fromReg);
  // "Sign in with your Microsoft 365 account to listen": the body asks for a brand's credentials.
  const signInBrand = brandsMentioned(SIGN_IN_WITH.exec(msg.bodyText.slice(0, 20_000))?.[1] ?? '', brands).find(
    (br) => notSender(br) && !web.some((h) => br.domains.some((d) => registrableDomain(d) === registrableDomain(h))),
  );
  const claimsOtherBrand = signInBrand !== undefined || brandsMentioned(display, brands).some(notSender);
  const roleClaim = claimsUnrelatedRole(display, fromReg, ctx.workspace.ownDomains ?? []);
  if (fromReg && !FREEMAIL.has(fromReg) && !claimsOtherBrand && !roleClaim && fromAuthenticated(auth, fromDomain) && web.length > 0 && web.every(isOwnSite))
    hits.push({ id: 'links.authenticated_own_site', detail: `Authenticated sender ${fromReg} (${auth.dmarc === 'pass' ? 'DMARC pass' : 'SPF/DKIM aligned, no DMARC record'}) whose ${web.length} link${web.length > 1 ? 's all go' : ' goes'} to its own site` });

  // HTML anchors only: in conversation (plain text) people link wherever the topic is.
  if (anchors.length >= 3 && fromReg) {
    const counts = new Map<string, number>();
    // An authenticated sender's own click tracker (links.ts) is where its links go, not elsewhere.
    const trackers = senderTrackers(ctx);
    for (const h of anchors) {
      if (isClickTracker(h) || trackers.has(registrableDomain(h))) continue;
      const r = registrableDomain(h);
      counts.set(r, (counts.get(r) ?? 0) + 1);
    }
    let top = '';
    let n = 0;
    for (const [r, c] of counts) if (c > n) [top, n] = [r, c];
    // The destination may be the sender's domain or the organisation its display name names
    // ("Tesco" sending from an ESP domain, linking to tesco.ie).
    const named = display.toLowerCase().replace(/[^a-z0-9]/g, '');
    const topLabel = domainLabel(top).replace(/[^a-z0-9]/g, '');
    if (n / anchors.length >= 0.8 && !isRelated(top, fromReg) && !(topLabel.length >= 4 && named.includes(topLabel)))
      hits.push({ id: 'links.unrelated_destination', detail: `${n} of ${anchors.length} links go to ${top}, unrelated to the sender's domain ${fromReg}` });
  }

  // The recipient: the first To address, or — sent to "undisclosed recipients" — an address that
  // the subject names (other than the sender's).
  const sender = msg.from?.address?.toLowerCase() ?? '';
  const rcpt =
    msg.to.find((a) => a.includes('@'))?.toLowerCase() ??
    (/[\w.+-]+@[\w-]+(\.[\w-]+)+/.exec(msg.subject)?.[0].toLowerCase() || undefined);
  if (rcpt && rcpt.length >= 6 && rcpt !== sender) {
    const head = `${msg.subject}\n${display}`.toLowerCase();
    const body = msg.bodyText.slice(0, 300).toLowerCase();
    if (head.includes(rcpt) || GREETING.test(body.replace(rcpt, '\u0000')))
      hits.push({ id: 'content.address_as_name', detail: `Addresses the recipient by their e-mail address (${rcpt}) instead of a name` });
  }

  if (!/ via /i.test(display)) {
    const linkRegs = new Set(web.map((h) => registrableDomain(h)));
    // Subjects of replies and forwards discuss brands ("Re: Google? Not in China"); a lure names one
    // in a fresh message that asks the reader to follow a link.
    const subject = /^\s*(re|aw|fw|fwd|tr|rv|enc|wg)\s*:/i.test(msg.subject) || web.length === 0 ? '' : msg.subject;
    let named = false;
    for (const br of brandsMentioned(`${subject} ${display}`, brands)) {
      const regs = br.domains.map((d) => registrableDomain(d));
      if (regs.includes(fromReg) || [...linkRegs].some((r) => regs.includes(r))) continue;
      hits.push({ id: 'content.brand_unrelated', detail: `Names ${br.name} but neither the sender nor any link belongs to ${br.name}` });
      named = true;
      break;
    }
    if (!named && signInBrand)
      hits.push({ id: 'content.brand_unrelated', detail: `Asks you to sign in with your ${signInBrand.name} account, but neither the sender nor any link belongs to ${signInBrand.name}` });
    if (roleClaim)
      hits.push({ id: 'sender.role_name_unrelated', detail: `Display name "${display.slice(0, 60)}" claims a role unrelated to the sending domain ${fromReg}` });
  }
  return hits;
}
