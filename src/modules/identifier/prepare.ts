import { NotFoundError, ValidationError } from '../../errors.ts';
import type { DiscoveryMethod } from '../../generated/prisma/client.ts';
import {
  jsonObject,
  loadMembers,
  loadSources,
  oneOf,
  score,
  sourceRef,
  sourceRefKey,
  text,
  userRef,
  userRefKey,
  type SourceRef,
  type UserRef,
} from '../shared/inputs.ts';
import { issuesOf, type ItemProblem } from '../shared/bulk.ts';
import { classify, kindMismatch, VALUE_KINDS, type ValueKind } from '../matching/normalise.ts';
import { Issues } from '../shared/validate.ts';

// Checking identifier items before a write: their fields, then their users and
// sources, looked up for the whole batch at once.

export const DISCOVERY_METHODS = ['MCP_TOOL', 'LLM_DISCOVERY', 'MANUAL'] as const satisfies readonly DiscoveryMethod[];
/** Largest discoveryMetadata, as JSON text. */
export const MAX_METADATA_BYTES = 16 * 1024;
/** Most items in one upsertIdentifiers call. */
export const MAX_BULK_ITEMS = 1000;

/** One identifier to create or update, as GraphQL and import files give it. */
export interface IdentifierItemInput {
  userId?: string | null;
  userEmail?: string | null;
  sourceId?: string | null;
  sourceKey?: string | null;
  identifierKey: string;
  identifierValue: string;
  valueKind?: ValueKind | null;
  discoveryMethod: DiscoveryMethod;
  confidenceScore?: number | null;
  discoveryMetadata?: Record<string, unknown> | null;
}

export interface UpsertIdentifierInput extends IdentifierItemInput {
  organizationId?: string | null;
}

export interface UpsertIdentifiersInput {
  organizationId?: string | null;
  items: IdentifierItemInput[];
}

/** A checked item whose user and source are not yet looked up. */
interface CheckedItem {
  user: UserRef;
  source: SourceRef;
  identifierKey: string;
  identifierValue: string;
  valueKind: ValueKind | null;
  discoveryMethod: DiscoveryMethod;
  confidenceScore: number | null;
  discoveryMetadata: Record<string, unknown> | null;
}

/** An item ready to write. */
export interface IdentifierRow {
  userId: string;
  sourceId: string;
  identifierKey: string;
  identifierValue: string;
  valueKind: ValueKind;
  normalizedValue: string;
  discoveryMethod: DiscoveryMethod;
  confidenceScore: number | null;
  discoveryMetadata: Record<string, unknown> | null;
}

/**
 * Checks one item's fields (no database); `base` prefixes paths, e.g. `input.items[3].`.
 * Returns the checked item, or the ValidationError naming each invalid field with the
 * user and source it names, if those are well-formed (so they are looked up anyway).
 */
function checkItem(base: string, raw: unknown): CheckedItem | { error: ValidationError; user?: UserRef; source?: SourceRef } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { error: ValidationError.field(base.replace(/\.$/, ''), 'must be an object') };
  }
  const item = raw as Record<string, unknown>;
  const issues = new Issues();
  const checked = {
    user: userRef(issues, base, item.userId, item.userEmail),
    source: sourceRef(issues, base, item.sourceId, item.sourceKey),
    identifierKey: text(issues, `${base}identifierKey`, item.identifierKey, 255, true),
    identifierValue: text(issues, `${base}identifierValue`, item.identifierValue, 1024, true),
    valueKind: oneOf(issues, `${base}valueKind`, item.valueKind, VALUE_KINDS) ?? null,
    discoveryMethod: oneOf(issues, `${base}discoveryMethod`, item.discoveryMethod, DISCOVERY_METHODS, true),
    confidenceScore: score(issues, `${base}confidenceScore`, item.confidenceScore),
    discoveryMetadata: jsonObject(issues, `${base}discoveryMetadata`, item.discoveryMetadata, MAX_METADATA_BYTES) ?? null,
  };
  const mismatch = checked.valueKind && checked.identifierValue ? kindMismatch(checked.valueKind, checked.identifierValue) : null;
  if (mismatch) issues.add(`${base}identifierValue`, mismatch);
  const error = issuesOf(issues);
  return error ? { error, user: checked.user, source: checked.source ?? undefined } : (checked as CheckedItem);
}

/** The problems of the user and source an item names: each that names no member or source of the organization. */
function missingReferences(
  base: string,
  refs: { user?: UserRef; source?: SourceRef },
  users: Map<string, unknown>,
  sources: Map<string, unknown>,
): NotFoundError[] {
  const missing: NotFoundError[] = [];
  if (refs.user && !users.has(userRefKey(refs.user))) {
    const path = `${base}${refs.user.id ? 'userId' : 'userEmail'}`;
    missing.push(new NotFoundError('User', `${path}: no member of the organization matches.`, path));
  }
  if (refs.source && !sources.has(sourceRefKey(refs.source))) {
    const path = `${base}${refs.source.id ? 'sourceId' : 'sourceKey'}`;
    missing.push(new NotFoundError('IntegrationSource', `${path}: no source of the organization matches.`, path));
  }
  return missing;
}

/**
 * Checks a batch of items for the organization and resolves their users and sources
 * (two queries for the whole batch). Returns a row for each good item and a problem
 * for each bad one, so a caller can refuse the whole batch (the GraphQL mutations) or
 * load the good items alone (the import). `pathOf(i)` is the path prefix of item i.
 */
export async function prepareIdentifiers(
  organizationId: string,
  items: readonly unknown[],
  pathOf: (index: number) => string,
): Promise<{ rows: (IdentifierRow | null)[]; problems: ItemProblem[] }> {
  const problems: ItemProblem[] = [];
  const results = items.map((raw, index) => checkItem(pathOf(index), raw));
  // The users and sources of every item are looked up, those of items with invalid fields too.
  const [users, sources] = await Promise.all([
    loadMembers(organizationId, results.flatMap((r) => (r.user ? [r.user] : []))),
    loadSources(organizationId, results.flatMap((r) => (r.source ? [r.source] : []))),
  ]);
  const seen = new Map<string, number>();
  const rows = results.map((item, index): IdentifierRow | null => {
    const base = pathOf(index);
    const missing = missingReferences(base, item, users, sources);
    if ('error' in item) problems.push({ index, error: item.error });
    problems.push(...missing.map((error) => ({ index, error })));
    if ('error' in item || missing.length) return null;
    const user = users.get(userRefKey(item.user))!;
    const source = sources.get(sourceRefKey(item.source))!;
    const key = naturalKey(user.id, source.id, item.identifierKey);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        index,
        error: ValidationError.field(`${base}identifierKey`, `repeats ${pathOf(first)}identifierKey (the same user, source and key)`),
      });
      return null;
    }
    seen.set(key, index);
    const { user: _u, source: _s, valueKind, ...fields } = item;
    return { userId: user.id, sourceId: source.id, ...fields, ...classify(item.identifierKey, item.identifierValue, source.phoneRegion, valueKind) };
  });
  problems.sort((a, b) => a.index - b.index);
  return { rows, problems };
}

/** The natural key of an identifier, as one string. */
export const naturalKey = (userId: string, sourceId: string, identifierKey: string) => `${userId}|${sourceId}|${identifierKey}`;
