import { SUGGEST_MIN_STRENGTH } from '../../src/modules/matching/links.ts';
import { classify } from '../../src/modules/matching/normalise.ts';
import { REGION, pairKey, partyValues, truePairs, type Population } from './generate.ts';
import { AUTO_APPROVE, type Call, type Loaded } from './load.ts';

// Scores what the server made of a loaded population against its ground truth, with
// the organization's own reads (resolveMany, linkSuggestions, identities):
//
// - resolve: every identifier of every user, asked as written under its source and
//   key, and every email and phone number asked by `email` / `phoneNumber` written
//   otherwise (upper case; a phone number in another format). An answer finds the person
//   when `user` is one of their accounts, or when it is `ambiguous` and `candidates`
//   include one of their accounts; the latter is right only for a value several people
//   (or one person's two accounts) hold, and is counted apart. A `user` who is someone
//   else is a wrong answer (precision).
// - suggestions: every pair the server suggested (any state; its threshold is on the
//   evidence's strength, SUGGEST_MIN_STRENGTH), and every identity it linked by itself
//   (a verified email), against the pairs that are the same person. Also those scored
//   at least SUGGEST_MIN_STRENGTH (what a reviewer filtering on it sees), with the links.
// - auto-linking: the same, keeping only suggestions at or above the organization's
//   auto-approve threshold (what would be approved without review) and the links.

export interface Rate {
  hit: number;
  of: number;
}
export const rate = (r: Rate) => (r.of ? r.hit / r.of : 1);

export interface Measured {
  count: number;
  precision: Rate;
  recallSharing: Rate;
  recallAll: Rate;
}

export interface Scores {
  resolve: {
    queries: number;
    recall: Rate;
    precision: Rate;
    /** Values several people hold, answered ambiguous with the asked person among candidates. */
    sharedAmbiguous: Rate;
    /** Values of one person answered ambiguous (their own accounts only). */
    ownAccountsAmbiguous: number;
    misses: string[];
  };
  suggestions: Measured;
  /** Suggestions scored at least SUGGEST_MIN_STRENGTH, and the links. */
  atThreshold: Measured;
  auto: { count: number; precision: Rate; recall: Rate; falsePairs: string[] };
  /** Same-person pairs sharing an email or phone scored below SUGGEST_MIN_STRENGTH, with their confidence. */
  missedAtThreshold: string[];
}

interface Query {
  input: Record<string, unknown>;
  person: number;
  /** The people holding the value asked, as this query compares it. */
  holders: Set<number>;
  label: string;
}

/** A US number in E.164 written nationally, any other with spaces: a format unlike the stored one. */
const otherFormat = (e164: string) =>
  /^\+1\d{10}$/.test(e164) ? `(${e164.slice(2, 5)}) ${e164.slice(5, 8)}-${e164.slice(8)}` : `${e164.slice(0, 3)} ${e164.slice(3)}`;

function resolveQueries(population: Population): Query[] {
  const byValue = new Map<string, Set<number>>();
  const byKey = new Map<string, Set<number>>();
  const add = (m: Map<string, Set<number>>, k: string, p: number) => m.set(k, (m.get(k) ?? new Set()).add(p));
  const norm = (key: string, value: string, given?: 'PHONE') => classify(key, value, REGION, given);
  for (const u of population.users) {
    add(byValue, norm('email', u.email).normalizedValue, u.person);
    for (const i of u.identifiers) {
      const n = norm(i.identifierKey, i.identifierValue, i.valueKind).normalizedValue;
      add(byValue, n, u.person);
      add(byKey, `${i.sourceKey}|${i.identifierKey}|${n}`, u.person);
    }
  }
  const queries: Query[] = [];
  for (const u of population.users) {
    const email = norm('email', u.email).normalizedValue;
    queries.push({ input: { email: email.toUpperCase() }, person: u.person, holders: byValue.get(email)!, label: `email ${email}` });
    for (const i of u.identifiers) {
      const { valueKind, normalizedValue: n } = norm(i.identifierKey, i.identifierValue, i.valueKind);
      const { sourceKey, identifierKey, identifierValue } = i;
      queries.push({
        input: { identifier: { sourceKey, identifierKey, identifierValue } },
        person: u.person,
        holders: byKey.get(`${sourceKey}|${identifierKey}|${n}`)!,
        label: `${sourceKey}.${identifierKey}=${identifierValue}`,
      });
      if (valueKind === 'EMAIL') queries.push({ input: { email: n.toUpperCase() }, person: u.person, holders: byValue.get(n)!, label: `email ${n}` });
      if (valueKind === 'PHONE') queries.push({ input: { phoneNumber: otherFormat(n) }, person: u.person, holders: byValue.get(n)!, label: `phone ${otherFormat(n)}` });
    }
  }
  return queries;
}

const RESOLVE = `query ($inputs: [ResolveInput!]!) { resolveMany(inputs: $inputs) { ambiguous user { id } candidates { id } } }`;
const SUGGESTIONS = `query ($id: ID!, $after: String) { organization(id: $id) { linkSuggestions(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { node { confidence state subject { ... on User { id } ... on Identity { id } } candidate { ... on User { id } ... on Identity { id } } } } } } }`;
const LINKED = `query ($id: ID!, $after: String) { organization(id: $id) { identities(linked: true, first: 100, after: $after) {
  pageInfo { hasNextPage endCursor } edges { node { id linkedBy user { id } } } } } }`;

async function read(call: Call, organizationId: string, query: string, variables: Record<string, unknown>) {
  const answer = await call(query, variables, organizationId);
  if (answer.errors?.length || !answer.data) throw new Error(`reading failed: ${answer.errors?.[0]?.message}`);
  return answer.data;
}

/** Every node of a connection under `organization`, page by page. */
async function all(call: Call, organizationId: string, query: string, field: string): Promise<any[]> {
  const nodes: any[] = [];
  let after: string | null = null;
  for (;;) {
    const data = await read(call, organizationId, query, { id: organizationId, after });
    const page = data.organization[field];
    nodes.push(...page.edges.map((e: { node: unknown }) => e.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
  }
}

export async function score(call: Call, population: Population, loaded: Loaded): Promise<Scores> {
  const refOf = new Map([...loaded.ids].map(([ref, id]) => [id, ref]));
  const personOfId = (id: string | undefined) => {
    const ref = id && refOf.get(id);
    return ref ? Number(ref.slice(1)) : null;
  };

  // ---- resolve
  const queries = resolveQueries(population);
  const resolve: Scores['resolve'] = {
    queries: queries.length,
    recall: { hit: 0, of: 0 },
    precision: { hit: 0, of: 0 },
    sharedAmbiguous: { hit: 0, of: 0 },
    ownAccountsAmbiguous: 0,
    misses: [],
  };
  for (let i = 0; i < queries.length; i += 500) {
    const batch = queries.slice(i, i + 500);
    const data = await read(call, loaded.organizationId, RESOLVE, { inputs: batch.map((q) => q.input) });
    batch.forEach((q, j) => {
      const answer = data.resolveMany[j] as { ambiguous: boolean; user: { id: string } | null; candidates: { id: string }[] } | null;
      const persons = (answer?.candidates ?? []).map((c) => personOfId(c.id));
      const single = answer?.user ? personOfId(answer.user.id) : null;
      if (answer?.user) {
        resolve.precision.of++;
        if (single === q.person) resolve.precision.hit++;
      }
      const shared = q.holders.size > 1;
      const found = shared
        ? !!answer?.ambiguous && persons.includes(q.person)
        : single === q.person || (!!answer?.ambiguous && persons.every((p) => p === q.person));
      if (shared) {
        resolve.sharedAmbiguous.of++;
        if (found) resolve.sharedAmbiguous.hit++;
      } else if (found && answer?.ambiguous) resolve.ownAccountsAmbiguous++;
      resolve.recall.of++;
      if (found) resolve.recall.hit++;
      else if (resolve.misses.length < 20) resolve.misses.push(`${q.label}: ${JSON.stringify(answer)}`);
    });
  }

  // ---- suggestions and links
  const truth = truePairs(partyValues(population));
  const suggested = new Map<string, number | null>();
  for (const s of await all(call, loaded.organizationId, SUGGESTIONS, 'linkSuggestions')) {
    const [a, b] = [refOf.get(s.subject?.id), refOf.get(s.candidate?.id)];
    if (a && b) suggested.set(pairKey(a, b), s.confidence);
  }
  const linked = new Set<string>();
  for (const d of await all(call, loaded.organizationId, LINKED, 'identities')) {
    const [a, b] = [refOf.get(d.id), refOf.get(d.user?.id)];
    if (a && b && d.linkedBy === 'AUTO') linked.add(pairKey(a, b));
  }
  const measure = (pairs: Set<string>) => ({
    count: pairs.size,
    precision: { hit: [...pairs].filter((p) => truth.all.has(p)).length, of: pairs.size },
    recallSharing: { hit: [...truth.sharing].filter((p) => pairs.has(p)).length, of: truth.sharing.size },
    recallAll: { hit: [...truth.all].filter((p) => pairs.has(p)).length, of: truth.all.size },
  });
  const s = measure(new Set([...suggested.keys(), ...linked]));
  const atThreshold = measure(new Set([...[...suggested].filter(([, c]) => c === null || c >= SUGGEST_MIN_STRENGTH).map(([k]) => k), ...linked]));
  const autoPairs = new Set([...[...suggested].filter(([, c]) => c === null || c >= AUTO_APPROVE).map(([k]) => k), ...linked]);
  const a = measure(autoPairs);
  const kept = new Set([...suggested].filter(([, c]) => c === null || c >= SUGGEST_MIN_STRENGTH).map(([k]) => k));
  const missedAtThreshold = [...truth.sharing].filter((p) => !kept.has(p) && !linked.has(p)).slice(0, 20).map((p) => `${p} (${suggested.get(p) ?? 'none'})`);
  return {
    missedAtThreshold,
    resolve,
    suggestions: s,
    atThreshold,
    auto: {
      count: a.count,
      precision: a.precision,
      recall: a.recallAll,
      falsePairs: [...autoPairs].filter((p) => !truth.all.has(p)).slice(0, 20).map((p) => `${p} (${suggested.get(p) ?? 'linked'})`),
    },
  };
}
