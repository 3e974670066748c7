// The one permission matrix. Every route declares the permission it needs
// (or is declared public / signed-in explicitly); roles and API-key scopes are
// both expressed as sets of these permissions.
import type { Role } from './schema.ts';

export const permissions = {
  'users:manage': 'Create users, change roles, unlock accounts, reset 2FA',
  'apikeys:manage': 'Create and revoke API keys',
  'settings:manage': 'Change workspace settings (2FA policy, session timeouts)',
  'audit:read': 'Read and verify the audit trail',
  'audit:export': 'Export the audit trail',
  'contacts:read': 'Read contacts (masked according to role)',
  'contacts:write': 'Create, update and import contacts',
  'contacts:export': 'Export contacts',
  'contacts:unmask': 'See masked contact fields in full',
  'segments:manage': 'Create and edit segments',
  'templates:manage': 'Create and edit templates',
  'campaigns:read': 'See campaigns and their statistics',
  'campaigns:write': 'Create and launch campaigns',
  'campaigns:approve': 'Approve campaigns authored by someone else',
  'messages:send': 'Send transactional messages',
  'events:write': 'Submit activity events',
  'monitoring:read': 'See alerts and the activity explorer',
  'monitoring:manage': 'Acknowledge alerts and configure detectors',
  'phishing:read': 'See reported and quarantined mail',
  'phishing:scan': 'Submit messages for phishing analysis',
  'phishing:manage': 'Act on reported and quarantined mail',
} as const;

export type Permission = keyof typeof permissions;
export const allPermissions = Object.keys(permissions) as Permission[];

const matrix: Record<Role, readonly Permission[]> = {
  owner: allPermissions,
  admin: allPermissions,
  security_analyst: [
    'audit:read',
    'monitoring:read',
    'monitoring:manage',
    'phishing:read',
    'phishing:scan',
    'phishing:manage',
    'campaigns:read',
  ],
  marketer: [
    'contacts:read',
    'contacts:write',
    'segments:manage',
    'templates:manage',
    'campaigns:read',
    'campaigns:write',
    'phishing:scan',
  ],
  sales_rep: ['contacts:read', 'contacts:write', 'campaigns:read', 'phishing:scan'],
  auditor: ['audit:read', 'audit:export', 'contacts:read', 'campaigns:read', 'monitoring:read', 'phishing:read'],
};

export function roleHas(role: Role, permission: Permission): boolean {
  return matrix[role].includes(permission);
}

export function permissionsOf(role: Role): Permission[] {
  return [...matrix[role]];
}

/** Scopes an API key may carry: machine-facing permissions only. */
export const apiKeyScopes = [
  'contacts:read',
  'contacts:write',
  'contacts:export',
  'campaigns:read',
  'messages:send',
  'events:write',
  'phishing:scan',
  'audit:read',
] as const satisfies readonly Permission[];
export type ApiKeyScope = (typeof apiKeyScopes)[number];

/** Roles an actor may assign: only an owner can make (or unmake) an owner. */
export function canAssignRole(actor: Role, target: Role): boolean {
  if (target === 'owner') return actor === 'owner';
  return actor === 'owner' || actor === 'admin';
}
