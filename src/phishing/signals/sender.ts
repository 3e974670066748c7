// Sender signals. Catches: display names impersonating configured staff/executives or well-known
// brands from unrelated addresses, lookalike From/Reply-To domains (edit distance, homoglyphs,
// punycode, brand + "-secure"/"-login" words, brand as a subdomain of another domain), Reply-To
// and Return-Path that point elsewhere, free-mail senders claiming to be a company, e-mail
// addresses embedded in display names.
// Misses: compromised genuine accounts, brands not in the list, lookalikes further than the
// edit-distance budget, and display names that impersonate people we were not told about.
import {
  brandsMentioned,
  domainOf,
  FREEMAIL,
  hostInfo,
  lookalike,
  lookalikeOf,
  registrableDomain,
  skeleton,
  targetInfo,
} from '../domains.ts';
import type { Hit, SignalContext } from './types.ts';

const COMPANY_WORDS =
  /\b(bank|banco|banca|support|suporte|soporte|service|servi[cç]o|servicio|kundenservice|team|equipe|equipo|security|seguran[cç]a|seguridad|sicherheit|admin|administrator|helpdesk|help desk|billing|payroll|hr|it department|customer|cliente|kunden|account|conta|cuenta|konto|inc|ltd|llc|gmbh|s\.?a\.?|ltda|corp|corporation|official|oficial|notification|notifica[cç][aã]o|alert|alerta|delivery|entrega|finance|financeiro|tesouraria|rh)\b/i;

function normName(s: string): string {
  return skeleton(s.replace(/["'“”‘’]/g, '').replace(/\s+/g, ' ').trim());
}

export function senderSignals({ msg, auth, workspace, brands, fromDomain }: SignalContext): Hit[] {
  const hits: Hit[] = [];
  const from = msg.from;
  if (!from?.address) {
    hits.push({ id: 'sender.no_address', detail: 'The From header has no valid address' });
    return hits;
  }
  if (msg.fromMalformed)
    hits.push({ id: 'sender.malformed_from', detail: `Malformed From header (display name "${from.name}" is not a single valid mailbox)` });
  const fromReg = registrableDomain(fromDomain);
  const own = (workspace.ownDomains ?? []).map((d) => registrableDomain(d));
  const display = from.name ?? '';

  // Staff / executive display-name impersonation (workspace-specific, fixed weight).
  if (display && workspace.staffNames?.length && !own.includes(fromReg)) {
    const dn = normName(display);
    const staff = workspace.staffNames.find((s) => {
      const sn = normName(s);
      return sn.length >= 4 && (dn === sn || dn.includes(sn));
    });
    if (staff)
      hits.push({ id: 'ws.staff_impersonation', detail: `Display name "${display}" matches staff member "${staff}" but the address is ${from.address}` });
  }

  // Lookalike of our own domains in From / Reply-To.
  for (const addr of [from.address, ...msg.replyTo.map((r) => r.address)]) {
    const d = domainOf(addr);
    for (const o of own) {
      const kind = lookalike(d, o);
      if (kind) {
        hits.push({ id: 'ws.lookalike_own_domain', detail: `${d} looks like our domain ${o} (${kind.replace('_', ' ')})` });
        break;
      }
    }
  }
  // Spoof of our own domain that fails authentication is handled via auth + this flag.
  if (own.includes(fromReg) && (auth.dmarc === 'fail' || (auth.source !== 'none' && auth.spf !== 'pass' && auth.dkim !== 'pass')))
    hits.push({ id: 'ws.own_domain_external', detail: `Claims to be from our own domain ${fromReg} but was not authenticated as such` });

  // Brand impersonation in the display name.
  const viaList = / via /i.test(display);
  const named = viaList ? [] : brandsMentioned(display, brands);
  for (const br of named) {
    if (!br.domains.some((d) => registrableDomain(d) === fromReg)) {
      hits.push({ id: 'sender.brand_display_name', detail: `Display name mentions ${br.name} but the address is ${from.address}` });
      break;
    }
  }
  // Lookalike of a brand domain.
  const fromInfo = hostInfo(fromDomain);
  outer: for (const br of brands) {
    for (const d of br.domains) {
      const kind = lookalikeOf(fromInfo, targetInfo(d));
      if (kind && !br.domains.some((x) => registrableDomain(x) === fromReg)) {
        hits.push({ id: 'sender.lookalike_brand_domain', detail: `${fromDomain} imitates ${br.name} (${d}, ${kind.replace(/_/g, ' ')})` });
        break outer;
      }
    }
  }
  // E-mail address inside the display name that differs from the real address.
  // Relays that rewrite From keep the original address in the display name and tag it: "'a@b' via
  // List" (mailing lists, Google Groups) or "a@b [alias/label]" (anonymising forwarders).
  const emb = /[\w.+-]+@[\w-]+(\.[\w-]+)+/.exec(display);
  const relayTagged = emb !== null && /^\s*\[[^\]]+\]\s*$/.test(display.slice(emb.index + emb[0].length));
  if (emb && !viaList && !relayTagged && registrableDomain(domainOf(emb[0].toLowerCase())) !== fromReg)
    hits.push({ id: 'sender.display_name_address', detail: `Display name shows ${emb[0]} but the message is from ${from.address}` });

  // Free-mail sender claiming to be an organisation.
  if (FREEMAIL.has(fromReg) && display && (COMPANY_WORDS.test(display) || named.length > 0))
    hits.push({ id: 'sender.freemail_company', detail: `"${display}" writes from a free-mail account (${fromReg})` });

  // Reply-To elsewhere. Mailing lists that rewrite From ("Alice via List") are not flagged.
  for (const r of msg.replyTo) {
    const rd = registrableDomain(domainOf(r.address));
    if (!rd || rd === fromReg || viaList) continue;
    hits.push({
      id: FREEMAIL.has(rd) && !FREEMAIL.has(fromReg) ? 'sender.reply_to_freemail' : 'sender.reply_to_mismatch',
      detail: `Replies go to ${r.address}, not to the sender's domain ${fromReg}`,
    });
    break;
  }
  // Return-Path (envelope sender) on an unrelated free-mail domain.
  const rp = registrableDomain(domainOf(msg.returnPath));
  const verp = /^(bounce|sentto|return|owner-|.*-bounces?)|=/i.test(msg.returnPath ?? '');
  if (rp && rp !== fromReg && FREEMAIL.has(rp) && !verp)
    hits.push({ id: 'sender.return_path_freemail', detail: `Envelope sender ${msg.returnPath} is a free-mail address unrelated to ${fromReg}` });
  return hits;
}
