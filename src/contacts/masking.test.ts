import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ContactPii,
  type ContactView,
  MASKING_MATRIX,
  MASK_FIELDS,
  type MaskField,
  ROLES,
  type Role,
  maskContact,
  maskContacts,
  maskEmail,
  maskName,
  maskPhone,
  maskSecret,
} from './masking.ts';

const OWNER_ID = 'u-rep';
const contact: ContactPii = {
  id: 'c-1',
  ownerUserId: OWNER_ID,
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  phone: '+447700900123',
  notes: 'Prefers calls after 5pm',
  attributes: { ssn_last4: '1234', plan: 'enterprise' },
};
const attributes = [
  { key: 'ssn_last4', sensitive: true },
  { key: 'plan', sensitive: false },
];

const CLEAR: Record<MaskField, { path: string; clear: unknown; masked: unknown }> = {
  email: { path: 'email', clear: 'ada@example.com', masked: 'a•••@example.com' },
  firstName: { path: 'firstName', clear: 'Ada', masked: 'A•••' },
  lastName: { path: 'lastName', clear: 'Lovelace', masked: 'L•••' },
  phone: { path: 'phone', clear: '+447700900123', masked: '+44 •••• ••0123' },
  notes: { path: 'notes', clear: 'Prefers calls after 5pm', masked: '••••••' },
  sensitiveAttribute: { path: 'attributes.ssn_last4', clear: '1234', masked: '••••••' },
  plainAttribute: { path: 'attributes.plan', clear: 'enterprise', masked: '••••••' },
};

// Expected visibility, written out independently of MASKING_MATRIX.
// Four characters per cell, C = clear, M = masked, for the scenarios
//   [owned, no permission] [not owned, no permission] [owned, contacts:unmask] [not owned, contacts:unmask]
const EXPECTED: Record<Role, Record<MaskField, string>> = {
  owner: {
    email: 'CCCC',
    firstName: 'CCCC',
    lastName: 'CCCC',
    phone: 'CCCC',
    notes: 'CCCC',
    sensitiveAttribute: 'CCCC',
    plainAttribute: 'CCCC',
  },
  admin: {
    email: 'CCCC',
    firstName: 'CCCC',
    lastName: 'CCCC',
    phone: 'CCCC',
    notes: 'CCCC',
    sensitiveAttribute: 'CCCC',
    plainAttribute: 'CCCC',
  },
  security_analyst: {
    email: 'CCCC',
    firstName: 'MMCC',
    lastName: 'MMCC',
    phone: 'MMCC',
    notes: 'MMCC',
    sensitiveAttribute: 'MMCC',
    plainAttribute: 'CCCC',
  },
  marketer: {
    email: 'CCCC',
    firstName: 'CCCC',
    lastName: 'CCCC',
    phone: 'MMCC',
    notes: 'MMCC',
    sensitiveAttribute: 'MMCC',
    plainAttribute: 'CCCC',
  },
  sales_rep: {
    email: 'CMCC',
    firstName: 'CMCC',
    lastName: 'CMCC',
    phone: 'CMCC',
    notes: 'CMCC',
    sensitiveAttribute: 'CMCC',
    plainAttribute: 'CMCC',
  },
  auditor: {
    email: 'MMMM',
    firstName: 'MMMM',
    lastName: 'MMMM',
    phone: 'MMMM',
    notes: 'MMMM',
    sensitiveAttribute: 'MMMM',
    plainAttribute: 'MMMM',
  },
};

const SCENARIOS = [
  { owned: true, perm: false },
  { owned: false, perm: false },
  { owned: true, perm: true },
  { owned: false, perm: true },
];

function get(obj: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj);
}

test('matrix covers every role and field', () => {
  assert.deepEqual(Object.keys(MASKING_MATRIX).sort(), [...ROLES].sort());
  for (const role of ROLES)
    assert.deepEqual(Object.keys(MASKING_MATRIX[role]).sort(), [...MASK_FIELDS].sort());
  assert.ok(Object.isFrozen(MASKING_MATRIX) && Object.isFrozen(MASKING_MATRIX.marketer));
});

for (const role of ROLES) {
  test(`masking matrix: ${role} × every field × ownership × contacts:unmask`, () => {
    for (const [i, s] of SCENARIOS.entries()) {
      const view: ContactView = {
        role,
        userId: s.owned ? OWNER_ID : 'u-other',
        permissions: s.perm ? ['contacts:unmask'] : ['contacts:read'],
        attributes,
      };
      const r = maskContact(view, contact);
      const label = `${role} owned=${s.owned} perm=${s.perm}`;
      const expectedUnmasked: string[] = [];
      let expectPermissionUsed = false;
      for (const field of MASK_FIELDS) {
        const want = EXPECTED[role][field][i];
        const { path, clear, masked } = CLEAR[field];
        const got = get(r.contact as unknown as Record<string, unknown>, path);
        assert.equal(got, want === 'C' ? clear : masked, `${label} ${field}`);
        assert.equal(r.contact.maskedFields.includes(path), want === 'M', `${label} maskedFields ${field}`);
        if (want === 'C' && field !== 'plainAttribute') expectedUnmasked.push(path);
        // Clear only thanks to the permission: compare with the no-permission scenario.
        if (s.perm && want === 'C' && EXPECTED[role][field][i - 2] === 'M') expectPermissionUsed = true;
      }
      assert.deepEqual([...r.unmaskedFields].sort(), expectedUnmasked.sort(), `${label} unmaskedFields`);
      assert.equal(r.beyondOwnership, !s.owned && expectedUnmasked.length > 0, `${label} beyondOwnership`);
      assert.equal(r.usedUnmaskPermission, expectPermissionUsed, `${label} usedUnmaskPermission`);
    }
  });
}

test('owner/admin reads beyond ownership are reported; own contacts are not', () => {
  const admin = maskContact({ role: 'admin', userId: 'u-admin', attributes }, contact);
  assert.equal(admin.beyondOwnership, true);
  assert.ok(admin.unmaskedFields.includes('phone'));
  const rep = maskContact({ role: 'sales_rep', userId: OWNER_ID, attributes }, contact);
  assert.equal(rep.beyondOwnership, false);
  // Unowned contact (no owner at all) is beyond ownership for everyone.
  const unowned = maskContact(
    { role: 'owner', userId: 'u-owner', attributes },
    { ...contact, ownerUserId: null },
  );
  assert.equal(unowned.beyondOwnership, true);
});

test('attributes without a definition are treated as sensitive (fail closed)', () => {
  const r = maskContact(
    { role: 'marketer', userId: 'u-m', attributes: [] },
    { ...contact, attributes: { plan: 'enterprise', mystery: 42 } },
  );
  assert.deepEqual(r.contact.attributes, { plan: '••••••', mystery: '••••••' });
});

test('nulls stay null and are not reported; unknown properties are not copied', () => {
  const sparse = {
    ...contact,
    phone: null,
    notes: null,
    attributes: { ssn_last4: null },
    secretColumn: 'x',
  } as ContactPii;
  const r = maskContact({ role: 'admin', userId: 'u-a', attributes }, sparse);
  assert.equal(r.contact.phone, null);
  assert.equal(r.contact.attributes.ssn_last4, null);
  assert.ok(!r.unmaskedFields.includes('phone'));
  assert.ok(!('secretColumn' in r.contact));
  const auditor = maskContact({ role: 'auditor', userId: 'u-x', attributes }, sparse);
  assert.equal(auditor.contact.phone, null);
  assert.deepEqual(auditor.unmaskedFields, []);
  assert.equal(auditor.beyondOwnership, false);
});

test('unknown role is rejected', () => {
  assert.throws(() => maskContact({ role: 'root' as Role, userId: 'u' }, contact), TypeError);
});

test('mask formats', () => {
  assert.equal(maskEmail('john@example.com'), 'j•••@example.com');
  assert.equal(maskEmail('not-an-email'), 'n•••');
  assert.equal(maskEmail(''), '');
  assert.equal(maskPhone('+447700900123'), '+44 •••• ••0123');
  assert.equal(maskPhone('+12025550123'), '+1 •••• ••0123');
  assert.equal(maskPhone('+33142685300'), '+33 •••• ••5300');
  assert.equal(maskPhone('12345'), '••••••'); // too short to reveal 4 digits
  assert.equal(maskName('Ada'), 'A•••');
  assert.equal(maskName('Émile'), 'É•••');
  assert.equal(maskName('👩🏽‍💻 Dev'), '👩🏽‍💻•••'); // whole grapheme, no broken surrogate
  assert.equal(maskSecret(123), '••••••');
  assert.equal(maskSecret(false), '••••••');
  assert.equal(maskSecret(null), null);
});

test('maskContacts aggregates one audit record per request', () => {
  const mine = { ...contact, id: 'c-mine' };
  const theirs = { ...contact, id: 'c-theirs', ownerUserId: 'u-someone' };
  const rep = maskContacts({ role: 'sales_rep', userId: OWNER_ID, permissions: [], attributes }, [
    mine,
    theirs,
  ]);
  assert.equal(rep.contacts[0].phone, '+447700900123');
  assert.equal(rep.contacts[1].phone, '+44 •••• ••0123');
  assert.deepEqual(rep.beyondOwnershipIds, []);
  assert.equal(rep.usedUnmaskPermission, false);

  const mk = maskContacts({ role: 'marketer', userId: 'u-m', permissions: ['contacts:unmask'], attributes }, [
    mine,
    theirs,
  ]);
  assert.deepEqual(mk.beyondOwnershipIds, ['c-mine', 'c-theirs']);
  assert.equal(mk.usedUnmaskPermission, true);
  assert.deepEqual(mk.unmaskedFields, [
    'attributes.ssn_last4',
    'email',
    'firstName',
    'lastName',
    'notes',
    'phone',
  ]);
});
