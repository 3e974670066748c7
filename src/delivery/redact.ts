// SMTP replies and error texts often quote the recipient ("550 5.1.1 <bob@x>:
// no such user"). The ledger and the transactional queue keep those texts in
// clear for operators, so every address in them is blanked first: customer
// addresses live only encrypted, in the contacts vault.
const ADDRESS = /<?[^\s<>"'(),;:]+@[^\s<>"'(),;:]+>?/g;

export function redactAddresses(text: string): string {
  return text.replace(ADDRESS, '<address>');
}
