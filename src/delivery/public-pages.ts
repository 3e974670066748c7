// The small HTML pages recipients see: unsubscribe confirmation and the
// preference page. Server-rendered, no scripts (the CSP allows none inline),
// plain form POSTs to the same signed URL; every dynamic value is escaped.
import type { ConsentState } from '../contacts/schema.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `marketing_email` → `Marketing email` */
export function purposeLabel(purpose: string): string {
  const words = purpose.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f6f7f9;color:#1f2328;margin:0;padding:2rem 1rem}
main{max-width:32rem;margin:0 auto;background:#fff;border:1px solid #d8dde3;border-radius:8px;padding:1.5rem 2rem}
h1{font-size:1.3rem;margin-top:0}
button{font:inherit;padding:.5rem 1.1rem;border-radius:6px;border:1px solid #1c64d1;background:#1c64d1;color:#fff;cursor:pointer}
fieldset{border:1px solid #d8dde3;border-radius:6px;margin:0 0 1rem;padding:.6rem 1rem}
label{display:inline-block;margin-right:1.2rem}
.muted{color:#5b6570;font-size:.9rem}
</style>
</head>
<body><main>
${body}
</main></body>
</html>`;
}

export function unsubscribePage(o: { email: string | null; preferencesPath: string }): string {
  const who = o.email ? ` for <strong>${escapeHtml(o.email)}</strong>` : '';
  return page(
    'Unsubscribe',
    `<h1>Unsubscribe</h1>
<p>Stop receiving marketing email${who}?</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
<p class="muted">Or <a href="${escapeHtml(o.preferencesPath)}">choose what you receive</a>.</p>`,
  );
}

export function unsubscribedPage(o: { email: string | null; preferencesPath: string }): string {
  const who = o.email ? ` <strong>${escapeHtml(o.email)}</strong>` : ' This address';
  return page(
    'Unsubscribed',
    `<h1>You are unsubscribed</h1>
<p>${who} will receive no more marketing email from us. This takes effect immediately.</p>
<p class="muted">Changed your mind or want something else? <a href="${escapeHtml(o.preferencesPath)}">Your preferences</a>.</p>`,
  );
}

export type PurposeChoice = { purpose: string; state: ConsentState | null };

export function preferencesPage(o: {
  email: string | null;
  purposes: PurposeChoice[];
  notice?: string;
  suppressed: boolean;
}): string {
  const fields = o.purposes
    .map((p, i) => {
      const subscribed = p.state === 'subscribed' || p.state === 'pending';
      const name = escapeHtml(`purpose:${p.purpose}`);
      return `<fieldset><legend>${escapeHtml(purposeLabel(p.purpose))}</legend>
<label><input type="radio" id="p${i}s" name="${name}" value="subscribed"${subscribed ? ' checked' : ''}${o.suppressed ? ' disabled' : ''}> Subscribed</label>
<label><input type="radio" id="p${i}u" name="${name}" value="unsubscribed"${subscribed ? '' : ' checked'}> Unsubscribed</label>
</fieldset>`;
    })
    .join('\n');
  const who = o.email ? `<p>Email preferences for <strong>${escapeHtml(o.email)}</strong>.</p>` : '';
  const notice = o.notice ? `<p role="status"><strong>${escapeHtml(o.notice)}</strong></p>` : '';
  const blocked = o.suppressed
    ? '<p class="muted">This address is on our do-not-mail list, so it cannot be subscribed again from this page. Please contact us if you want to receive our email again.</p>'
    : '';
  return page(
    'Email preferences',
    `<h1>Email preferences</h1>\n${notice}${who}<form method="post">\n${fields}\n${blocked}<button type="submit">Save</button>\n</form>`,
  );
}

export function notFoundPage(): string {
  return page(
    'Link not valid',
    '<h1>This link is not valid</h1><p>It may have been copied incompletely.</p>',
  );
}
