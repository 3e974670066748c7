// Model features. Only phishing-describing inputs go in: fired signals (sig:*) and word tokens
// (w:*) of the subject and visible body text. Deliberately excluded, to avoid learning which
// collection a message came from: every raw header name/value, dates, mailer names, list
// headers, Received chains, Message-IDs, URLs and e-mail addresses (links only enter as the
// link signals), numbers, and mailing-list footers.
import type { ParsedMessage } from './parse.ts';
import type { Hit } from './signals/types.ts';
import { foldText } from './signals/language.ts';

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
  (
    // English
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
    // collection / list / archive vocabulary
    'mailman listinfo mailing list lists subscribe subscribed unsubscribe digest archive archives url urls ' +
    'usrp ettus exmh spamassassin taint razor sourceforge geocities yahoogroups wrote writes'
  ).split(' '),
);

const SHORT_TOKENS = new Set('pdf usd eur btc pix cpf pin otp iva irs tax fee win won bid job ceo cfo hr vat dhl ups atm'.split(' '));

export function tokenize(text: string): string[] {
  const cleaned = foldText(text)
    .replace(/\b(?:https?:\/\/|www\.)\S+/g, ' ')
    .replace(/\S+@\S+/g, ' ');
  const out = new Set<string>();
  for (const m of cleaned.matchAll(/[a-z]{3,20}/g)) {
    const t = m[0];
    // Three-letter tokens are mostly noise (encoded fragments, abbreviations); keep known ones.
    if (STOP_TOKENS.has(t) || (t.length === 3 && !SHORT_TOKENS.has(t))) continue;
    out.add(t);
  }
  return [...out];
}

export function buildFeatures(msg: Pick<ParsedMessage, 'subject' | 'bodyText'>, hits: Hit[]): Features {
  const f: Features = new Map();
  for (const h of hits) {
    if (h.id.startsWith('ws.')) continue;
    const k = `sig:${h.id}`;
    f.set(k, Math.max(f.get(k) ?? 0, h.value ?? 1));
  }
  const toks = tokenize(contentText(msg));
  const v = toks.length ? 1 / Math.sqrt(toks.length) : 0;
  for (const t of toks) f.set(`w:${t}`, v);
  return f;
}
