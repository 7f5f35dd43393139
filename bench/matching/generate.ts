import { classify } from '../../src/modules/matching/normalise.ts';

// A deterministic population of people for measuring matching (npm run eval:matching):
// the same seed and size give the same people, values and formats on every run. Each
// person is one or more parties the server sees apart (their user, sometimes a second
// account, sometimes an account at the identity provider), and the generator knows
// which parties are the same person: that is the ground truth the scorer counts
// against. What makes it hard, as in real data: emails in varied case, phone numbers
// in national and international formats, a home phone shared by a household, team
// mailboxes several people hold, typos, and different people who look alike.

export const REGION = 'US';

export const SOURCES = [
  { key: 'salesforce', name: 'Salesforce', kind: 'INTEGRATION' },
  { key: 'zendesk', name: 'Zendesk', kind: 'INTEGRATION' },
  { key: 'slack', name: 'Slack', kind: 'INTEGRATION' },
  { key: 'okta', name: 'Okta', kind: 'IDENTITY_PROVIDER' },
] as const;

export interface GenIdentifier {
  sourceKey: string;
  identifierKey: string;
  identifierValue: string;
  /** Null: unscored (a manual entry); else found by a discovery job with this confidence. */
  confidenceScore: number | null;
  /** Given by the writer (a key that does not say what it holds); else inferred. */
  valueKind?: 'PHONE';
}

/** A user: a person's account (the invite's email is theirs). */
export interface GenUser {
  ref: string;
  person: number;
  email: string;
  identifiers: GenIdentifier[];
}

/** An account at the identity provider, linked by the server only on a verified email. */
export interface GenIdentity {
  ref: string;
  person: number;
  identifierKey: string;
  name: string;
  email: string | null;
  phoneNumber: string | null;
  externalId: string;
  externalEmail: string;
  externalEmailVerified: boolean;
}

export interface Population {
  seed: number;
  people: number;
  users: GenUser[];
  identities: GenIdentity[];
}

/** mulberry32: small, fast and the same everywhere. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p: number) => next() < p,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!,
  };
}
type Random = ReturnType<typeof random>;

const FIRST = ['james', 'mary', 'john', 'patricia', 'robert', 'jennifer', 'michael', 'linda', 'david', 'elizabeth', 'william', 'susan', 'richard', 'jessica', 'joseph', 'sarah', 'thomas', 'karen', 'maria', 'daniel', 'lisa', 'matthew', 'nancy', 'anthony'];
const LAST = ['smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez', 'hernandez', 'lopez', 'wilson', 'anderson', 'thomas', 'taylor', 'moore', 'jackson', 'martin', 'lee', 'thompson', 'white'];
const AREAS = ['415', '212', '646', '303', '617', '512', '206', '312'];
const TEAMS = ['support', 'sales', 'billing', 'ops', 'help', 'success', 'finance', 'hr'];

/** An email written as people and systems do: as given, capitalised, or upper case. */
function anyCase(r: Random, email: string): string {
  const [local, domain] = email.split('@') as [string, string];
  switch (r.int(0, 3)) {
    case 0: return email;
    case 1: return `${local.split('.').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('.')}@${domain.charAt(0).toUpperCase()}${domain.slice(1)}`;
    case 2: return email.toUpperCase();
    default: return ` ${email} `;
  }
}

/** A US number (`area`, 7 digits) in one of the ways CRMs, tickets and people write it. */
function usFormat(r: Random, area: string, local: string): string {
  const [a, b] = [local.slice(0, 3), local.slice(3)];
  switch (r.int(0, 6)) {
    case 0: return `(${area}) ${a}-${b}`;
    case 1: return `${area}.${a}.${b}`;
    case 2: return `${area}-${a}-${b}`;
    case 3: return `1-${area}-${a}-${b}`;
    case 4: return `+1 ${area} ${a} ${b}`;
    case 5: return `+1 (${area}) ${a}-${b}`;
    default: return `+1${area}${a}${b}`;
  }
}

/** A UK mobile (07700 9xxxxx), always with its country code: the organization's region is the US. */
function ukFormat(r: Random, digits: string): string {
  switch (r.int(0, 2)) {
    case 0: return `+44 7700 ${digits}`;
    case 1: return `+44 (0)7700 ${digits}`;
    default: return `+447700${digits}`;
  }
}

/** One letter swapped with the next, or dropped: the typos people make in a form. */
function typo(r: Random, word: string): string {
  const i = r.int(0, word.length - 2);
  return r.chance(0.5) ? word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2) : word.slice(0, i) + word.slice(i + 1);
}

/** A phone number: how to write it, again and again, in varied formats. */
type Phone = (r: Random) => string;

export interface GenerateOptions {
  people: number;
  seed: number;
}

/** The population for a seed and size (see the top of this file). */
export function generate({ people, seed }: GenerateOptions): Population {
  const r = random(seed);
  const taken = new Set<string>();
  const unique = (make: () => string) => {
    for (;;) {
      const v = make();
      if (!taken.has(v)) return taken.add(v), v;
    }
  };
  const phone = (): Phone => {
    if (r.chance(0.1)) {
      const d = unique(() => `9${String(r.int(0, 99999)).padStart(5, '0')}`);
      return (rr) => ukFormat(rr, d);
    }
    const area = r.pick(AREAS);
    const local = unique(() => `${area}${r.int(200, 999)}${String(r.int(0, 9999)).padStart(4, '0')}`).slice(3);
    return (rr) => usFormat(rr, area, local);
  };
  const users: GenUser[] = [];
  const identities: GenIdentity[] = [];
  // Households of two people anywhere in the company share a home phone; teams of
  // three to six share a mailbox, and some of them a desk phone too.
  const homes = new Map<number, Phone>();
  const order = Array.from({ length: people }, (_, p) => p).sort(() => r.next() - 0.5);
  for (let i = 0; i + 1 < people; i += 2) if (r.chance(0.3)) homes.set(order[i]!, phone()).set(order[i + 1]!, homes.get(order[i]!)!);
  const teams = new Map<number, { box: string; desk: Phone | null }>();
  for (let p = 0; p < people; ) {
    const size = r.int(3, 6);
    if (r.chance(0.4)) {
      const team = { box: unique(() => `${r.pick(TEAMS)}${r.int(1, 99)}@corp.test`), desk: r.chance(0.5) ? phone() : null };
      for (let q = p; q < Math.min(people, p + size); q++) teams.set(q, team);
    }
    p += size;
  }

  for (let p = 0; p < people; p++) {
    // Look-alikes: a name is reused often, so many people differ only by a digit.
    const [first, last] = [r.pick(FIRST), r.pick(LAST)];
    const work = unique(() => `${first}.${last}${taken.has(`${first}.${last}@corp.test`) ? r.int(2, 99) : ''}@corp.test`);
    const mobile = phone();
    const home = homes.get(p) ?? null;
    const team = teams.get(p) ?? null;
    const ids = (n: number) => `${n.toString(16).padStart(8, '0')}`;
    const user: GenUser = {
      ref: `u${p}`,
      person: p,
      email: anyCase(r, work).trim(),
      identifiers: [
        { sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: `005${ids(p * 7 + 1)}`, confidenceScore: null },
        { sourceKey: 'salesforce', identifierKey: 'email', identifierValue: anyCase(r, work), confidenceScore: null },
        { sourceKey: 'salesforce', identifierKey: 'phone', identifierValue: mobile(r), confidenceScore: null },
        { sourceKey: 'slack', identifierKey: 'member_id', identifierValue: `U${ids(p * 13 + 5).toUpperCase()}`, confidenceScore: null },
        { sourceKey: 'slack', identifierKey: 'user_email', identifierValue: anyCase(r, work), confidenceScore: r.chance(0.5) ? 0.9 : null },
      ],
    };
    // A ticketing system's `contact` field: the writer says it holds a phone number.
    if (r.chance(0.2)) user.identifiers.push({ sourceKey: 'zendesk', identifierKey: 'contact', identifierValue: mobile(r), confidenceScore: null, valueKind: 'PHONE' });
    if (home) user.identifiers.push({ sourceKey: 'zendesk', identifierKey: 'phone', identifierValue: home(r), confidenceScore: null });
    if (team) user.identifiers.push({ sourceKey: 'zendesk', identifierKey: 'team_email', identifierValue: anyCase(r, team.box), confidenceScore: null });
    if (team?.desk) user.identifiers.push({ sourceKey: 'zendesk', identifierKey: 'desk_phone', identifierValue: team.desk(r), confidenceScore: null });
    users.push(user);

    // A second account of the same person (signed up with a personal address): it
    // shares the work email or the mobile, written otherwise, or only a typo of them.
    if (r.chance(0.25)) {
      const personal = unique(() => `${first}${last}${r.int(1, 999)}@mail.test`);
      const dup: GenUser = { ref: `d${p}`, person: p, email: personal, identifiers: [] };
      const how = r.int(0, 3);
      const found = r.chance(0.5) ? 0.95 : null;
      if (how === 0 || how === 2) dup.identifiers.push({ sourceKey: 'zendesk', identifierKey: 'requester_email', identifierValue: anyCase(r, work), confidenceScore: found });
      if (how === 1 || how === 2) dup.identifiers.push({ sourceKey: 'zendesk', identifierKey: 'mobile', identifierValue: mobile(r), confidenceScore: found });
      if (how === 3) {
        const [local] = work.split('@') as [string, string];
        dup.identifiers.push({ sourceKey: 'zendesk', identifierKey: 'requester_email', identifierValue: unique(() => `${typo(r, local)}@corp.test`), confidenceScore: 0.6 });
      }
      users.push(dup);
    }

    // An account at the identity provider: its email verified (then linked at once),
    // or not (then suggested), with the mobile in a national or international format.
    if (r.chance(0.5)) {
      identities.push({
        ref: `i${p}`,
        person: p,
        identifierKey: `okta-${ids(p * 11 + 3)}`,
        name: `${first} ${last}`,
        email: r.chance(0.7) ? anyCase(r, work).trim() : null,
        phoneNumber: r.chance(0.6) ? mobile(r) : null,
        externalId: `00u${ids(p * 17 + 9)}`,
        externalEmail: anyCase(r, work).trim(),
        externalEmailVerified: r.chance(0.5),
      });
    }
  }
  return { seed, people, users, identities };
}

// ---- Ground truth -------------------------------------------------------------------

/** A party's values as the matching compares them: normalised, with their kind. */
export interface PartyValues {
  ref: string;
  person: number;
  kind: 'USER' | 'IDENTITY';
  values: { kind: string; value: string }[];
}

/** Every party with the normalised values it holds (user email, identifiers; identity email, phone, account). */
export function partyValues(population: Population): PartyValues[] {
  const norm = (key: string, value: string, given?: 'PHONE') => {
    const { valueKind, normalizedValue } = classify(key, value, REGION, given);
    return { kind: valueKind, value: normalizedValue };
  };
  return [
    ...population.users.map((u) => ({
      ref: u.ref,
      person: u.person,
      kind: 'USER' as const,
      values: [norm('email', u.email), ...u.identifiers.map((i) => norm(i.identifierKey, i.identifierValue, i.valueKind))],
    })),
    ...population.identities.map((d) => ({
      ref: d.ref,
      person: d.person,
      kind: 'IDENTITY' as const,
      values: [
        ...(d.email ? [norm('email', d.email)] : []),
        ...(d.phoneNumber ? [norm('phone', d.phoneNumber)] : []),
        norm('email', d.externalEmail),
      ],
    })),
  ];
}

/** A pair of parties in one order, whichever way round it is named. */
export const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);

/**
 * The pairs that are the same person (two identities excepted: they are never linked),
 * and among them those sharing a normalised email or phone number: the pairs the
 * server is expected to suggest.
 */
export function truePairs(parties: PartyValues[]): { all: Set<string>; sharing: Set<string> } {
  const all = new Set<string>();
  const sharing = new Set<string>();
  const byPerson = new Map<number, PartyValues[]>();
  for (const p of parties) byPerson.set(p.person, [...(byPerson.get(p.person) ?? []), p]);
  for (const group of byPerson.values()) {
    for (let i = 0; i < group.length; i++) {
      for (let j = i + 1; j < group.length; j++) {
        const [a, b] = [group[i]!, group[j]!];
        if (a.kind === 'IDENTITY' && b.kind === 'IDENTITY') continue;
        const key = pairKey(a.ref, b.ref);
        all.add(key);
        const held = new Set(a.values.filter((v) => v.kind === 'EMAIL' || v.kind === 'PHONE').map((v) => v.value));
        if (b.values.some((v) => held.has(v.value))) sharing.add(key);
      }
    }
  }
  return { all, sharing };
}
