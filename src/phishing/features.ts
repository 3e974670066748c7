// Model features. Only phishing-describing inputs go in: fired signals (sig:*) and word tokens
// (w:*) of the subject and visible body text. Deliberately excluded, to avoid learning which
// collection a message came from: every raw header name/value, dates, mailer names, list
// headers, Received chains, Message-IDs, URLs and e-mail addresses (links only enter as the
// link signals), numbers, and mailing-list footers.
import type { ParsedMessage } from './parse.ts';
import type { Hit } from './signals/types.ts';

export type Features = Map<string, number>;

const MAX_TOKEN_TEXT = 20_000;

export function contentText(msg: Pick<ParsedMessage, 'subject' | 'bodyText'>): string {
  let body = msg.bodyText.slice(0, MAX_TOKEN_TEXT);
  // Mailman-style list footers are list boilerplate, not content.
  body = body.replace(/\n_{20,}\s*\n[^\n]{0,120}(mailing list|list info|listinfo)[\s\S]*$/i, '\n');
  return `${msg.subject}\n${body}`;
}

/**
 * Tokens never used: function words of the four supported languages (they identify the
 * *language*, and the public phishing corpus is mostly Portuguese while the legitimate sets are
 * English) and mailing-list / archive vocabulary (identifies the *collection*).
 */
export const STOP_TOKENS = new Set(
  // English
  (
    'the and for you your are with this that from have has was were will would can could our not but all any ' +
    'its into out off per via than then them they their there these those what when where which who why how ' +
    // Portuguese / Spanish
    'para por com sem que como mais mas uma umas uns seu sua seus suas esta este isto isso essa esse pelo pela ' +
    'dos das nos nas aos foi ser sao tem bom boa nova novo voce voces ate ja nao sim muito ainda enviado enviada ' +
    'los las del una unos unas est esta estas estos usted ustedes sus muy tambien pero sin sobre ' +
    // German
    'der die das und ist ein eine einen einem nicht mit sie ihr ihre ihren ihnen wir sich auf fur von zum zur ' +
    'bei dem den des auch noch nur wie oder wenn bitte ' +
    // Dutch / French (present in the phishing corpus only)
    'het een van ons onze jij jullie niet ook maar voor naar kent heeft hebben zijn worden deze wordt ' +
    'les des une est pas pour vous votre vos nous avec dans sur qui ans sont mais plus tout ' +
    // Dutch function words the honeypot's Dutch spam uses ("je bent", "wilt u")
    'bent wilt kunt jouw mijn graag bij deze alle meer hier heb maak ' +
    // months and weekdays (EN/PT/ES/DE): dates identify when a collection was gathered
    'january february march april may june july august september october november december ' +
    'jan feb mar apr jun jul aug sep sept oct nov dec ' +
    'janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro ' +
    'enero febrero marzo mayo junio julio septiembre octubre noviembre diciembre ' +
    'januar februar marz juni juli oktober dezember ' +
    'monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun ' +
    'segunda terca quarta quinta sexta sabado domingo lunes martes miercoles jueves viernes ' +
    'montag dienstag mittwoch donnerstag freitag samstag sonntag ' +
    // quoted-reply header words ("On Tue, ... wrote:", "Date:"): conversation plumbing
    'date sent ' +
    // bulk-mail legal and subscription boilerplate: says a message is bulk mail (newsletters and
    // spam alike), not that it is phishing; learned against a single mailing list it made every
    // unseen newsletter suspect
    'copyright rights reserved trademark trademarks registered privacy policy newsletter newsletters ' +
    'subscription subscriptions subscriber subscribers preferences ' +
    // markup that leaks into the text rendering (entities, CSS, table attributes)
    'html htm nbsp width height font arial helvetica verdana tahoma sans serif align bgcolor cellpadding ' +
    'cellspacing border img src href span div style ' +
    // collection / list / archive vocabulary
    'mailman listinfo mailing list lists subscribe subscribed unsubscribe digest archive archives url urls ' +
    'usrp ettus exmh spamassassin taint razor sourceforge geocities yahoogroups wrote writes'
  ).split(' '),
);

const SHORT_TOKENS = new Set(
  'pdf usd eur btc pix cpf pin otp iva irs tax fee win won bid job ceo cfo hr vat dhl ups atm'.split(' '),
);

// What may precede a sentence-initial word: start, sentence punctuation, a quote marker, a bullet.
const SENTENCE_START = /(?:^|[.!?:;>\n]\s*|\n\s*[-*\d.)]*\s*)$/;

/**
 * Word tokens of the text, lowercased and folded. Dropped: stop tokens, unknown 3-letter tokens,
 * and proper names — a word whose every occurrence in the message is Capitalised in mid-sentence
 * ("Dear John", "in the Netherlands"). Names identify the people and places of one collection
 * (a list's regular posters, one campaign's brand), not phishing; brands are covered by the
 * sender and link signals. Sentence-initial and ALL-CAPS words are kept ("Verify", "URGENT").
 */
export function tokenize(text: string): string[] {
  const cleaned = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/\b(?:https?:\/\/|www\.)\S+/gi, ' ')
    .replace(/\S+@\S+/g, ' ');
  const out = new Set<string>();
  for (const m of cleaned.matchAll(/[A-Za-z]{3,20}/g)) {
    const w = m[0];
    const t = w.toLowerCase();
    // Three-letter tokens are mostly noise (encoded fragments, abbreviations); keep known ones.
    if (out.has(t) || STOP_TOKENS.has(t) || (t.length === 3 && !SHORT_TOKENS.has(t))) continue;
    const capitalised = w.charCodeAt(0) <= 90 && w.charCodeAt(1) >= 97 && /^[A-Z][a-z]+$/.test(w);
    if (capitalised && !SENTENCE_START.test(cleaned.slice(Math.max(0, m.index - 6), m.index))) continue;
    out.add(t);
  }
  return [...out];
}

/**
 * Signals listed as reasons (weight 0) but never scored. Their legitimate prevalence is set by how
 * a mail stream was collected, not by phishing: the 2002 SpamAssassin ham carries no
 * Authentication-Results at all; mailing lists break DKIM and SPF, re-sign with their own domain
 * (unaligned) and point Reply-To at the list; `spf=temperror` is a Microsoft 365 habit of the
 * honeypot. Learned from the corpus they identified the collection (leave-one-source-out: 10–45 %
 * false positives on an unseen legitimate source; `auth.unaligned` alone added +3.8 log-odds to an
 * unseen list's mail). A DMARC failure is still scored: that is the policy verdict on alignment.
 * `links.javascript_in_body` is context because mail clients do not run such links (see links.ts).
 */
export const CONTEXT_ONLY_SIGNALS = new Set([
  'auth.no_dmarc',
  'auth.unauthenticated',
  'auth.dkim_fail',
  'auth.error',
  'auth.unaligned',
  'sender.reply_to_mismatch',
  'links.javascript_in_body',
]);

/**
 * Word values are 1/√n for a message of n distinct kept words, but never above 1/√MIN_TOKEN_NORM:
 * otherwise the one or two words of a feed item or a short notification weigh as much as a whole
 * letter (unseen news-feed mail was flagged on a single word such as "city").
 */
export const MIN_TOKEN_NORM = 10;

/**
 * Signals diluted in long texts: lure phrases (`lang.*`) and odd links are what a phishing
 * message is about, but a news digest or newsletter mentions them in passing ("password" in a
 * security headline, "million euros" in business news, one tinyurl among 40 links). Phishing is
 * short — half the corpus phishing has ≤ 34 distinct words, 90 % ≤ 95 — while the legitimate
 * mail that showed these phrases had a median of 100–400. Above DILUTION_WORDS distinct words
 * the value of these signals is multiplied by DILUTION_WORDS / n (in training and scoring alike).
 */
export const DILUTION_WORDS = 100;
export const DILUTED_SIGNALS = new Set([
  'lang.urgency',
  'lang.account_suspension',
  'lang.credentials',
  'lang.payment',
  'lang.bec',
  'lang.prize',
  'lang.advance_fee',
  'lang.generic_greeting',
  'lang.call_to_action',
  'links.shortener',
  'links.ip_host',
  'links.risky_tld',
  'links.text_href_mismatch',
  'links.javascript_or_data',
]);

export function buildFeatures(msg: Pick<ParsedMessage, 'subject' | 'bodyText'>, hits: Hit[]): Features {
  const f: Features = new Map();
  const toks = tokenize(contentText(msg));
  const dilution = toks.length > DILUTION_WORDS ? DILUTION_WORDS / toks.length : 1;
  for (const h of hits) {
    if (h.id.startsWith('ws.') || CONTEXT_ONLY_SIGNALS.has(h.id)) continue;
    const k = `sig:${h.id}`;
    const v = (h.value ?? 1) * (DILUTED_SIGNALS.has(h.id) ? dilution : 1);
    f.set(k, Math.max(f.get(k) ?? 0, v));
  }
  const v = toks.length ? 1 / Math.sqrt(Math.max(MIN_TOKEN_NORM, toks.length)) : 0;
  for (const t of toks) f.set(`w:${t}`, v);
  return f;
}
