// Language signals: lures in English, German, Portuguese and Spanish, grouped by concept so the
// model learns "urgency" rather than one language's words. Catches: urgency and deadlines,
// account suspension / unusual activity, requests for credentials or personal data, payment and
// invoice lures, wire transfer / gift card / BEC requests, prizes and expiring points.
// Misses: other languages, lures in images, very short messages ("are you available?") unless the
// BEC phrases match, and legitimate mail that uses the same phrases (security notices, invoices),
// which is why these only add evidence and never decide alone.
import type { Hit, SignalContext } from './types.ts';

// Patterns run on lowercased text with diacritics removed.
const GROUPS: { id: string; label: string; re: RegExp }[] = [
  {
    id: 'lang.urgency',
    label: 'urgency / deadline',
    re: /\b(urgent(e|emente)?|immediately|as soon as possible|within (24|48|72) hours|in (24|48) hours|expires? (today|soon)|expiring (today|soon)|last (warning|reminder|chance)|final (notice|warning|reminder)|action required|dringend|sofort|umgehend|innerhalb von (24|48) stunden|letzte (mahnung|warnung|erinnerung)|imediatamente|ainda hoje|expira(m|ndo)? hoje|ultim[oa] (aviso|chance|dia)|em ate (24|48) horas|prazo|inmediatamente|en (24|48) horas|ultimo aviso|vence hoy|caduca)\b/g,
  },
  {
    id: 'lang.account_suspension',
    label: 'account suspension / unusual activity',
    re: /\b(account (has been |was |will be )?(suspended|locked|disabled|limited|restricted|deactivated|closed|blocked)|unusual (sign.?in |login )?activity|suspicious (activity|login|sign.?in)|verify your (account|identity|email)|confirm your (account|identity|email)|reactivate|unauthori[sz]ed (access|login|transaction)|konto (wurde |wird )?(gesperrt|eingeschrankt|deaktiviert)|ungewohnliche aktivitat|verifizieren sie|conta (foi |sera |esta )?(suspensa|bloqueada|bloqueado|desativada|cancelada)|atividade (suspeita|incomum)|bloqueio|desbloque|cuenta (ha sido |sera |esta )?(suspendida|bloqueada|desactivada|cancelada)|actividad (inusual|sospechosa)|verifique su (cuenta|identidad))\b/g,
  },
  {
    id: 'lang.credentials',
    label: 'credential / personal data request',
    re: /\b(password|passcode|login credentials|sign.?in to|log.?in to|update your (payment|billing|account) (details|information|info)|social security|card number|security code|one.?time (code|password)|passwort|kennwort|zugangsdaten|anmeldedaten|senha|dados (cadastrais|bancarios|pessoais)|atualiz(e|ar) (seus|os) dados|numero do cartao|codigo de seguranca|token|cpf|contrasena|datos (bancarios|personales)|actualice sus datos|numero de tarjeta)\b/g,
  },
  {
    id: 'lang.payment',
    label: 'payment / invoice lure',
    re: /\b(invoice|payment (failed|declined|pending|overdue|due)|outstanding (balance|payment)|overdue|refund|billing (problem|issue)|rechnung|zahlung (fehlgeschlagen|ausstehend)|mahnung|ruckerstattung|fatura|boleto|pagamento (pendente|recusado|em atraso)|debito pendente|reembolso|restituicao|factura|pago (pendiente|rechazado)|deuda)\b/g,
  },
  {
    id: 'lang.bec',
    label: 'wire transfer / gift card / BEC request',
    re: /\b(wire transfer|bank transfer|gift ?cards?|itunes cards?|are you (available|at your desk)|quick favou?r|kindly (send|process|transfer)|change (of|in) (bank|banking) details|new bank account|updated? (bank|banking) details|uberweisung|bankverbindung (geandert|aktualisiert)|gutscheinkarten?|transferencia (bancaria|urgente)|pix|cartao presente|dados bancarios atualizados|tarjetas? de regalo|cambio de cuenta bancaria)\b/g,
  },
  {
    id: 'lang.prize',
    label: 'prize / reward / expiring points',
    re: /\b(you (have )?won|winner|congratulations|claim your (prize|reward|gift)|free gift|reward points|points (expire|expiring)|gewinn(er|spiel)?|gewonnen|herzlichen gluckwunsch|parabens|premio|premiado|sorteio|resgat(e|ar)|pontos|felicidades|ganador|ha ganado|recompensa)\b/g,
  },
  {
    id: 'lang.advance_fee',
    label: 'advance-fee / inheritance / crypto windfall',
    re: /\b(inheritance|next of kin|beneficiary|compensation fund|unclaimed (funds|fund|money)|(million|billion) (us )?(dollars|usd|euros?)|atm card|lottery|bitcoin|btc|crypto ?wallet|investment opportunity|business proposal|confidential (deal|transaction|proposal)|heranca|beneficiario|fundo de compensacao|milhoes de (dolares|reais)|herencia|beneficiario|millones de (dolares|euros)|erbschaft|erbe|begunstigter|millionen (dollar|euro))\b/g,
  },
  {
    id: 'lang.generic_greeting',
    label: 'generic greeting (the sender does not know your name)',
    re: /\b(dear (customer|client|user|member|valued (customer|client|member)|account ?holder|sir\/madam|sir or madam|beneficiary)|prezad[oa] client[ea]|caro cliente|estimad[oa] client[ea]|sehr geehrte[r]? kund(e|in)|liebe[r]? kund(e|in)|cher client|beste klant)\b/g,
  },
  {
    id: 'lang.call_to_action',
    label: 'click-through to log in / verify / pay',
    // Only actions that hand over access or money: plain "click here" is everyday marketing.
    re: /\b(click (here|below|the (link|button))(,)? to (verify|confirm|log ?in|sign ?in|update|unlock|restore|reactivate|secure|validate|claim|pay|avoid)|(log ?in|sign ?in|verify|confirm|validate) (now|immediately|here)|hier klicken,? um (zu )?(bestatigen|verifizieren|anmelden|entsperren)|jetzt (bestatigen|verifizieren|entsperren)|clique (aqui|no link|no botao) (para|e) (atualizar|confirmar|regularizar|desbloquear|validar|acessar sua conta|evitar)|(atualize|confirme|regularize|desbloqueie|valide) (agora|ja|aqui)|haga clic (aqui )?para (verificar|confirmar|actualizar|desbloquear|validar)|(verifique|confirme|actualice) (ahora|aqui))\b/g,
  },
];

export function foldText(s: string): string {
  return s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

// Characters inserted inside words to defeat filters: soft hyphen, zero-width space/joiners, word joiner.
// Also the combining grapheme joiner (U+034F), which renders as nothing between letters.
const INVISIBLE_IN_WORD = /\p{L}(?:[\u00ad\u200b-\u200d\u2060-\u2064\ufeff]|\u034f)+\p{L}/gu;
// CSS that hides text from the reader but not from filters.
const HIDDEN_CSS = /font-size\s*:\s*0(?:px|pt|em)?\s*[;"']|(?:margin|top|left|text-indent)(?:-top|-left)?\s*:\s*-?\d{4,}px/gi;

export function obfuscationSignals({ msg }: SignalContext): Hit[] {
  const hits: Hit[] = [];
  const sample = `${msg.from?.name ?? ''}\n${msg.subject}\n${msg.bodyText.slice(0, 50_000)}`;
  let n = 0;
  INVISIBLE_IN_WORD.lastIndex = 0;
  while (n < 20 && INVISIBLE_IN_WORD.exec(sample)) n++;
  if (n >= 3) hits.push({ id: 'content.invisible_characters', detail: `Invisible characters inserted inside words (${n >= 20 ? '20+' : n} places)` });
  HIDDEN_CSS.lastIndex = 0;
  const css = msg.html.slice(0, 300_000).match(HIDDEN_CSS);
  if (css && css.length > 0) hits.push({ id: 'content.hidden_text', detail: `Text hidden with CSS (${css[0].replace(/["';]/g, '').trim()})` });
  return hits;
}

// Security disclaimers name what a lure asks for ("we will never ask for your password", "do not
// share this code"): legitimate banks and services print them, so their clause is not read for lures.
const DISCLAIMER = new RegExp(
  [
    // "we will never ask you for", "do not share this code", "nunca pede sua senha", "nunca te pedira"
    // …but not a threat: "if you do not send your details within 24 hours".
    String.raw`(?<!\b(?:if|unless)(?: you)? )\b(?:(?:will|would|shall) never|never|do not|don'?t|won'?t|nunca|jamais)\s+(?:\w+\s+){0,3}?(?:ask|request|share|give out|send|e-?mail you|ped[a-z]*|solicit[a-z]*|compart[a-z]*)\b[^.!?\n]{0,160}`,
    // German puts the verb last: "wir werden Sie niemals per E-Mail nach Ihrem Passwort fragen"
    String.raw`\b(?:niemals|nie)\b[^.!?\n]{0,100}?\b(?:fragen|anfordern|verlangen|weitergeben|mitteilen)\b`,
  ].join('|'),
  'g',
);

export function languageSignals({ msg }: SignalContext): Hit[] {
  const text = foldText(`${msg.subject}\n${msg.bodyText.slice(0, 50_000)}`).replace(DISCLAIMER, ' ');
  const hits: Hit[] = [];
  for (const g of GROUPS) {
    g.re.lastIndex = 0;
    const found = new Set<string>();
    for (let m = g.re.exec(text); m && found.size < 5; m = g.re.exec(text)) found.add(m[0]);
    if (found.size)
      hits.push({
        id: g.id,
        detail: `${g.label}: ${[...found].map((f) => `"${f}"`).join(', ')}`,
        value: Math.min(1, found.size / 2),
      });
  }
  return hits;
}
