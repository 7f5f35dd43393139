import { createHash } from 'node:crypto';

// The demo organization a first development start loads: people known by several
// integrations in the formats those integrations really use (mixed-case emails,
// national and international phone numbers), a household sharing a phone, a team
// mailbox held by two people, a likely duplicate with a pending suggestion, and
// identities with properties and identity-provider accounts. Fixed, so the example
// operations can name what they ask for.

export const DEMO_ORGANIZATION = { slug: 'demo', name: 'Demo Corp' } as const;
export const DEMO_ADMIN = { email: 'admin@demo.test', name: 'Demo Admin' } as const;

export const DEMO_SOURCES = [
  { key: 'salesforce', name: 'Salesforce', kind: 'INTEGRATION' },
  { key: 'slack', name: 'Slack', kind: 'INTEGRATION' },
  { key: 'zendesk', name: 'Zendesk', kind: 'INTEGRATION' },
  { key: 'okta', name: 'Okta', kind: 'IDENTITY_PROVIDER' },
] as const;

const NAMES = [
  'Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Katherine Johnson', 'Edsger Dijkstra', 'Barbara Liskov',
  'Donald Knuth', 'Margaret Hamilton', 'Radia Perlman', 'Ken Thompson', 'Frances Allen', 'John McCarthy',
  'Hedy Lamarr', 'Claude Shannon', 'Annie Easley', 'Dennis Ritchie', 'Mary Jackson', 'Leslie Lamport',
  'Karen Sparck Jones', 'Tony Hoare', 'Evelyn Boyd Granville', 'Niklaus Wirth', 'Sophie Wilson', 'Whitfield Diffie',
  'Adele Goldberg', 'Vint Cerf', 'Jean Bartik', 'Walter Hopper',
];

export interface DemoPerson {
  email: string;
  name: string;
  role: 'ANALYST' | 'ORGANIZATION_ADMIN';
}

const emailOf = (name: string) => `${name.toLowerCase().replace(/[^a-z]+/g, '.')}@demo.test`;

/** The same id for the same email on every load, so examples can name a demo user. */
export function demoUserId(email: string): string {
  const h = createHash('sha256').update(`demo-user:${email}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const DEMO_PEOPLE: DemoPerson[] = NAMES.map((name, i) => ({
  email: emailOf(name),
  name,
  role: i % 9 === 4 ? 'ORGANIZATION_ADMIN' : 'ANALYST',
}));

/** Ada Lovelace's likely duplicate: her married name, known only to Zendesk. */
export const DEMO_DUPLICATE: DemoPerson = { email: 'ada.king@demo.test', name: 'Ada King', role: 'ANALYST' };

export interface DemoIdentifier {
  userEmail: string;
  sourceKey: string;
  identifierKey: string;
  identifierValue: string;
  discoveryMethod: 'MCP_TOOL' | 'LLM_DISCOVERY' | 'MANUAL';
  confidenceScore: number | null;
}

/** How each integration writes a person's email: as typed into a CRM, or lower-cased. */
const capitalised = (email: string) =>
  email.replace(/(^|\.)([a-z])/g, (_m, dot: string, c: string) => dot + c.toUpperCase()).replace(/@demo\.test$/, '@Demo.test');

export function demoIdentifiers(): DemoIdentifier[] {
  const out: DemoIdentifier[] = [];
  const add = (userEmail: string, sourceKey: string, identifierKey: string, identifierValue: string, discoveryMethod: DemoIdentifier['discoveryMethod'], confidenceScore: number | null) =>
    out.push({ userEmail, sourceKey, identifierKey, identifierValue, discoveryMethod, confidenceScore });
  DEMO_PEOPLE.forEach((p, i) => {
    const n = String(100 + i).padStart(4, '0');
    // Ada's owner id is the one the WhoIsThis example asks for.
    add(p.email, 'salesforce', 'owner_id', i === 0 ? '005XYZ' : `005A000000${n}`, 'MCP_TOOL', 0.95);
    add(p.email, 'salesforce', 'email', capitalised(p.email), 'MCP_TOOL', 0.9);
    add(p.email, 'slack', 'member_id', `U0${(0x1a2b3c + i * 7919).toString(36).toUpperCase()}`, 'MCP_TOOL', 1);
    add(p.email, 'slack', 'email', p.email, 'MCP_TOOL', 1);
    // Salesforce keeps national numbers, Zendesk international ones.
    if (i % 2 === 0) add(p.email, 'salesforce', 'phone', `(415) 555-${n}`, 'LLM_DISCOVERY', 0.7);
    if (i % 3 === 0) add(p.email, 'zendesk', 'phone', `+1 415-555-${n}`, 'LLM_DISCOVERY', 0.8);
    if (i % 4 === 1) add(p.email, 'zendesk', 'requester_id', `${36000000 + i * 131}`, 'MANUAL', null);
  });
  const grace = DEMO_PEOPLE[1]!.email;
  const walter = DEMO_PEOPLE.find((p) => p.name === 'Walter Hopper')!.email;
  // A household: two people, one landline.
  add(grace, 'zendesk', 'home_phone', '(212) 555-0147', 'LLM_DISCOVERY', 0.6);
  add(walter, 'zendesk', 'home_phone', '(212) 555-0147', 'LLM_DISCOVERY', 0.6);
  // A team mailbox: two people answer as it, so resolving it is ambiguous.
  add(DEMO_PEOPLE[8]!.email, 'zendesk', 'email', 'support@demo.test', 'MANUAL', null);
  add(DEMO_PEOPLE[16]!.email, 'zendesk', 'email', 'support@demo.test', 'MANUAL', null);
  // Ada King shares Ada Lovelace's Zendesk phone and writes her email another way.
  add(DEMO_DUPLICATE.email, 'zendesk', 'phone', '+1 415-555-0100', 'LLM_DISCOVERY', 0.8);
  add(DEMO_DUPLICATE.email, 'zendesk', 'email', 'ADA.LOVELACE@demo.test', 'LLM_DISCOVERY', 0.5);
  return out;
}

export interface DemoIdentity {
  identifierKey: string;
  identityType: 'USER' | 'ORG' | 'OTHER';
  name: string;
  email?: string;
  phoneNumber?: string;
  sourceKey?: string;
  externalId?: string;
  externalUsername?: string;
  externalEmail?: string;
  externalEmailVerified?: boolean;
  properties?: { key: string; type: 'STRING' | 'NUMBER' | 'BOOLEAN' | 'JSON'; value: unknown }[];
}

export function demoIdentities(): DemoIdentity[] {
  const accounts: DemoIdentity[] = DEMO_PEOPLE.slice(0, 10).map((p, i) => ({
    identifierKey: `okta:${p.email}`,
    identityType: 'USER',
    name: p.name,
    sourceKey: 'okta',
    externalId: `00u${(1_000_000 + i * 37).toString(36)}`,
    externalUsername: p.email,
    externalEmail: p.email,
    // A verified email equal to a member's links the account to them.
    externalEmailVerified: i !== 3,
    properties: [
      { key: 'department', type: 'STRING', value: ['Engineering', 'Research', 'Support'][i % 3] },
      { key: 'mfa_enrolled', type: 'BOOLEAN', value: i % 2 === 0 },
      { key: 'logins_30d', type: 'NUMBER', value: 10 + i * 3 },
    ],
  }));
  return [
    ...accounts,
    {
      identifierKey: 'customer:initech',
      identityType: 'ORG',
      name: 'Initech',
      email: 'accounts@initech.test',
      phoneNumber: '+1 (512) 555-0199',
      properties: [{ key: 'plan', type: 'JSON', value: { tier: 'enterprise', seats: 250 } }],
    },
    { identifierKey: 'mailbox:support', identityType: 'OTHER', name: 'Support mailbox', email: 'support@demo.test' },
  ];
}
