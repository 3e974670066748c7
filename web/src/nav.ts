import { createElement, type ReactElement } from 'react';
import { AccountPage } from './pages/AccountPage.tsx';
import { ApiKeysPage } from './pages/ApiKeysPage.tsx';
import { AuditPage } from './pages/AuditPage.tsx';
import { MonitoringPage } from './pages/MonitoringPage.tsx';
import { ApprovalsPage, CampaignsPage } from './pages/campaigns/CampaignsPage.tsx';
import { SegmentsPage } from './pages/campaigns/SegmentsPage.tsx';
import { TemplatesPage } from './pages/campaigns/TemplatesPage.tsx';
import { ContactsPage } from './pages/ContactsPage.tsx';
import { OutboxPage } from './pages/OutboxPage.tsx';
import { PhishingPage } from './pages/PhishingPage.tsx';
import { RelaysPage } from './pages/RelaysPage.tsx';
import { SendingDomainsPage } from './pages/SendingDomainsPage.tsx';
import { SettingsPage } from './pages/SettingsPage.tsx';
import { UsersPage } from './pages/UsersPage.tsx';

export interface NavEntry {
  /** Navbar label; also the page heading. */
  label: string;
  path: string;
  /** Permission required to see the entry; null = any signed-in user. */
  permission: string | null;
  /** Page to render; entries without one render a "coming soon" placeholder. */
  element?: ReactElement;
  section: 'Email' | 'Administration' | 'Account';
}

/** One slot per domain. Add the page element when a domain ships. */
export const nav: NavEntry[] = [
  { label: 'Contacts', path: '/contacts', permission: 'contacts:read', element: createElement(ContactsPage), section: 'Email' },
  { label: 'Segments', path: '/segments', permission: 'segments:manage', element: createElement(SegmentsPage), section: 'Email' },
  { label: 'Templates', path: '/templates', permission: 'templates:manage', element: createElement(TemplatesPage), section: 'Email' },
  { label: 'Campaigns', path: '/campaigns', permission: 'campaigns:read', element: createElement(CampaignsPage), section: 'Email' },
  { label: 'Approvals', path: '/approvals', permission: 'campaigns:approve', element: createElement(ApprovalsPage), section: 'Email' },
  { label: 'Outbox', path: '/outbox', permission: 'campaigns:read', element: createElement(OutboxPage), section: 'Email' },
  {
    label: 'Monitoring',
    path: '/monitoring',
    permission: 'monitoring:read',
    element: createElement(MonitoringPage),
    section: 'Email',
  },
  { label: 'Phishing', path: '/phishing', permission: 'phishing:read', element: createElement(PhishingPage), section: 'Email' },
  {
    label: 'Users',
    path: '/users',
    permission: 'users:manage',
    element: createElement(UsersPage),
    section: 'Administration',
  },
  {
    label: 'API keys',
    path: '/api-keys',
    permission: 'apikeys:manage',
    element: createElement(ApiKeysPage),
    section: 'Administration',
  },
  {
    label: 'Audit log',
    path: '/audit',
    permission: 'audit:read',
    element: createElement(AuditPage),
    section: 'Administration',
  },
  {
    label: 'Sending domains',
    path: '/sending-domains',
    permission: 'settings:manage',
    element: createElement(SendingDomainsPage),
    section: 'Administration',
  },
  {
    label: 'SMTP relays',
    path: '/relays',
    permission: 'settings:manage',
    element: createElement(RelaysPage),
    section: 'Administration',
  },
  {
    label: 'Settings',
    path: '/settings',
    permission: 'settings:manage',
    element: createElement(SettingsPage),
    section: 'Administration',
  },
  {
    label: 'My account',
    path: '/account',
    permission: null,
    element: createElement(AccountPage),
    section: 'Account',
  },
];

export function visibleNav(permissions: readonly string[] | undefined): NavEntry[] {
  return nav.filter((e) => e.permission === null || (permissions ?? []).includes(e.permission));
}
