// Authentication signals. Catches: spoofed senders whose SPF/DKIM/DMARC fail, senders that
// authenticate nothing, From domains not aligned with any authenticated identity.
// Misses: phishing from attacker-owned domains with perfect SPF/DKIM/DMARC (most modern
// phishing: ~45 % of the corpus passes SPF), compromised real accounts, and anything when no
// trusted Authentication-Results header is present (offline mode then says nothing).
import { registrableDomain } from '../domains.ts';
import type { AuthSummary } from '../types.ts';
import type { Hit, SignalContext } from './types.ts';

/**
 * The From domain is authenticated: DMARC passed for it, or — where it publishes no DMARC record
 * (dmarc=none) or the receiving server did not check — SPF or DKIM passed for the same
 * organisational domain, which is what DMARC would have said (relaxed alignment). A DMARC failure
 * always means no.
 */
export function fromAuthenticated(auth: AuthSummary, fromDomain: string): boolean {
  const from = registrableDomain(fromDomain);
  if (!from || auth.dmarc === 'fail') return false;
  if (auth.dmarc === 'pass') return registrableDomain(auth.headerFrom ?? fromDomain) === from;
  if (auth.dmarc !== 'none' && auth.dmarc !== 'unknown') return false;
  const dkimAligned = (auth.dkimDomains ?? []).some((d) => d && registrableDomain(d) === from);
  const spfAligned = auth.spf === 'pass' && !!auth.mailFrom && registrableDomain(auth.mailFrom) === from;
  return dkimAligned || spfAligned;
}

export function authSignals({ auth, fromDomain }: SignalContext): Hit[] {
  if (auth.source === 'none') return [];
  const hits: Hit[] = [];
  if (auth.dmarc === 'fail') hits.push({ id: 'auth.dmarc_fail', detail: `DMARC failed for ${fromDomain || 'the From domain'}` });
  if (auth.spf === 'fail') hits.push({ id: 'auth.spf_fail', detail: 'SPF hard-failed: the sending server is not allowed for this domain' });
  if (auth.spf === 'softfail') hits.push({ id: 'auth.spf_softfail', detail: 'SPF soft-failed' });
  if (auth.dkim === 'fail' && auth.arc !== 'pass')
    hits.push({ id: 'auth.dkim_fail', detail: 'DKIM signature did not verify (and no ARC chain vouches for it)' });
  if (auth.spf !== 'pass' && auth.dkim !== 'pass' && auth.arc !== 'pass')
    hits.push({ id: 'auth.unauthenticated', detail: `Neither SPF nor DKIM passed (spf=${auth.spf}, dkim=${auth.dkim})` });
  if (auth.dmarc === 'none' || auth.dmarc === 'unknown')
    hits.push({ id: 'auth.no_dmarc', detail: `No DMARC result for ${fromDomain || 'the sender'} (dmarc=${auth.dmarc})` });
  if (auth.spf === 'temperror' || auth.spf === 'permerror' || auth.dmarc === 'permerror')
    hits.push({ id: 'auth.error', detail: `Authentication errors (spf=${auth.spf}, dmarc=${auth.dmarc})` });
  if (fromDomain) {
    const from = registrableDomain(fromDomain);
    const dkimAligned = (auth.dkimDomains ?? []).some((d) => d && registrableDomain(d) === from);
    const spfAligned = auth.spf === 'pass' && !!auth.mailFrom && registrableDomain(auth.mailFrom) === from;
    if (!dkimAligned && !spfAligned && auth.dmarc !== 'pass' && (auth.spf === 'pass' || auth.dkim === 'pass'))
      hits.push({
        id: 'auth.unaligned',
        detail: `Authenticated as ${auth.mailFrom ?? auth.dkimDomains?.[0] ?? 'another domain'}, not as the From domain ${from}`,
      });
  }
  return hits;
}
