import type { DiscoveryMethod } from '../../generated/prisma/client.ts';
import type { Prisma } from '../../db.ts';
import { inferValueKind, normaliseValue } from '../matching/normalise.ts';
import { meetsMinimumWhere } from '../shared/rules.ts';
import { Issues } from '../shared/validate.ts';

/** Filters of `Organization.identifiers` and the other identifier lists. */
export interface IdentifierFilter {
  organizationId?: string | null;
  userId?: string | null;
  sourceId?: string | null;
  sourceKey?: string | null;
  identifierKey?: string | null;
  identifierValue?: string | null;
  discoveryMethod?: DiscoveryMethod | null;
  minConfidence?: number | null;
}

/** The where of an identifier list; an id that does not parse is BAD_USER_INPUT. */
export function identifiersWhere(args: IdentifierFilter): Prisma.IdentifierWhereInput {
  const issues = new Issues();
  const organizationId = issues.id('organizationId', args.organizationId, 'Organization');
  const userId = issues.id('userId', args.userId, 'User');
  const sourceId = issues.id('sourceId', args.sourceId, 'IntegrationSource');
  if (args.minConfidence != null && !(args.minConfidence >= 0 && args.minConfidence <= 1)) {
    issues.add('minConfidence', 'must be a number from 0 to 1');
  }
  issues.throwIfAnyInRead();
  return {
    ...(organizationId && { organizationId }),
    ...(userId && { userId }),
    ...(sourceId && { sourceId }),
    ...(args.sourceKey != null && { source: { key: args.sourceKey } }),
    ...(args.identifierKey != null && { identifierKey: args.identifierKey }),
    ...(args.identifierValue != null && {
      normalizedValue: normaliseValue(inferValueKind(args.identifierKey ?? '', args.identifierValue), args.identifierValue),
    }),
    ...(args.discoveryMethod && { discoveryMethod: args.discoveryMethod }),
    // Unscored counts as certain, as in matching (rules.ts).
    ...meetsMinimumWhere('confidenceScore', args.minConfidence),
  };
}
