import { queryFromInfo } from '@pothos/plugin-prisma';
import { encodeGlobalID } from '@pothos/plugin-relay';
import type { GraphQLResolveInfo } from 'graphql';
import { builder } from '../../builder.ts';
import type { Context } from '../../context.ts';
import { prisma } from '../../db.ts';
import { visibleUserRule } from '../shared/rules.ts';
import { DiscoveryMethodEnum, IdentifierRef } from '../identifier/schema.ts';
import { IdentityRef, LinkedByEnum } from '../identity/schema.ts';
import { Issues } from '../shared/validate.ts';
import { UserRef } from '../user/schema.ts';
import { compiledList, compiledObject, keptForResolver, rootPlanners, soleElement, type JsonText, type PlanInfo } from '../shared/engine/index.ts';
import { prebuiltResolutions } from './compiled.ts';
import { AS_OF_DESCRIPTION } from '../shared/as-of.ts';
import { resolutionsAsOf } from './as-of.ts';
import { toKeys } from './keys.ts';
import { resolveKeys, type Resolution, type ResolveKey } from './resolve.ts';
import { explainLinkOf, graphOf, MAX_NODES, readableOrganization } from './service.ts';
import type { Graph, GraphEdge, GraphNode, GraphNodeType } from './traverse.ts';

const MAX_RESOLVE_MANY = 1000;

// Every input names a source by sourceKey or sourceId; these lookups once took `source`.
const SOURCE_DEPRECATION = 'Use sourceKey (or sourceId), as every other input does. Given beside them, it must name the same source.';

const IdentifierKeyInput = builder.inputType('ResolveIdentifierInput', {
  description: 'An identifier as an integration knows it: `identifierKey = identifierValue` in a source.',
  fields: (t) => ({
    sourceKey: t.string({ required: false, description: 'The integration source, by key, e.g. `salesforce`. Give this or sourceId.' }),
    sourceId: t.id({ required: false, description: 'The integration source, by global id (or UUID). Give this or sourceKey.' }),
    source: t.string({ required: false, description: 'The integration source: its key or id.', deprecationReason: SOURCE_DEPRECATION }),
    identifierKey: t.string({ description: 'The field name in the source, e.g. `owner_id`.' }),
    identifierValue: t.string({
      description: "The value as the source has it; compared normalised as the source would store it (an email in any case, a phone number in any format).",
    }),
  }),
});

const ExternalAccountInput = builder.inputType('ResolveExternalAccountInput', {
  description: 'An account at an identity provider.',
  fields: (t) => ({
    sourceKey: t.string({ required: false, description: 'The identity provider source, by key, e.g. `okta`. Give this or sourceId.' }),
    sourceId: t.id({ required: false, description: 'The identity provider source, by global id (or UUID). Give this or sourceKey.' }),
    source: t.string({ required: false, description: 'The identity provider source: its key or id.', deprecationReason: SOURCE_DEPRECATION }),
    externalId: t.string({ description: "The account's id at the provider." }),
  }),
});

const ResolveInput = builder.inputType('ResolveInput', {
  description: 'One thing a person is known by. Give exactly one field.',
  isOneOf: true,
  fields: (t) => ({
    identifier: t.field({ type: IdentifierKeyInput, required: false, description: 'An identifier in an integration source.' }),
    email: t.string({ required: false, description: 'An email address (matched case-insensitively).' }),
    phoneNumber: t.string({
      required: false,
      description: "A phone number: with its country code in any format, or in a national format of the organization's default phone region (normalised to E.164 before matching).",
    }),
    externalAccount: t.field({ type: ExternalAccountInput, required: false, description: 'An account at an identity provider.' }),
    identityKey: t.string({ required: false, description: "An identity's identifierKey." }),
  }),
});

type ResolveInputShape = typeof ResolveInput.$inferInput;

const ResolutionRef = builder.objectRef<Resolution>('Resolution').implement({
  description: 'Who a key belongs to, and the evidence.',
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      description: 'The person: the one user the key matched. Null when it matched several (`ambiguous`): choose among `candidates`.',
      resolve: (r) => r.user,
    }),
    candidates: t.field({
      type: [UserRef],
      description:
        'Every user the key matched, best first: the user whose own email it is, the user of the identity it names, then the users of the matched identifiers by confidence (unscored counts as certain), then the most recently updated. More than one means the key is ambiguous.',
      resolve: (r) => r.candidates,
    }),
    ambiguous: t.boolean({ description: 'Whether the key matched more than one user; then `user` is null.', resolve: (r) => r.ambiguous ?? r.candidates.length > 1 }),
    identity: t.field({
      type: IdentityRef,
      nullable: true,
      description: 'The identity the key names (by email, phone number, provider account or identity key), if any.',
      resolve: (r) => r.identity,
    }),
    matchedIdentifiers: t.field({
      type: [IdentifierRef],
      description: 'The identifiers that matched, best first, with their confidence and discovery method.',
      resolve: (r) => r.matchedIdentifiers,
    }),
  }),
});

/**
 * Resolutions without the users the viewer may not see (one who left the organization
 * still owns its identifiers there), by the rule node(id) reads users by; a match of
 * such a user still counts, so the answer is ambiguous exactly when the compiled read
 * (compiled.ts) says so.
 */
async function visibleUsersOf(ctx: Context, found: (Resolution | null)[]): Promise<(Resolution | null)[]> {
  const ids = [...new Set(found.flatMap((r) => r?.candidates.map((c) => c.id) ?? []))];
  if (!ids.length) return found;
  const where = { id: { in: ids }, ...visibleUserRule(ctx, await ctx.access.readableOrganizationIds()) };
  const visible = new Set((await prisma.user.findMany({ where, select: { id: true } })).map((u) => u.id));
  return found.map((r) => r && { ...r, ambiguous: r.candidates.length > 1, user: r.user && visible.has(r.user.id) ? r.user : null, candidates: r.candidates.filter((c) => visible.has(c.id)) });
}

/**
 * The general path's lookups of one request are batched: aliased `resolve` fields not
 * compiled cost what one `resolveMany` does (those that select the same fields of the user). The user is
 * loaded with what the operation selects beneath `user` (memberships, identifiers...),
 * in the statement that finds it.
 */
function resolver(ctx: Context, info: GraphQLResolveInfo, organizationId: string) {
  const userQuery = queryFromInfo({ context: ctx, info, typeName: 'User', path: ['user'] }) as object;
  return ctx.loader<ResolveKey, Resolution | null>(
    `resolve:${organizationId}:${JSON.stringify(userQuery)}`,
    async (keys) => visibleUsersOf(ctx, await resolveKeys(organizationId, keys, userQuery)),
    { cacheKeyFn: ((k: ResolveKey) => JSON.stringify(k)) as never },
  );
}

// `resolve` of any kind of key is planned before execution: the resolver's checks, then
// the plan, which goes as one statement with the other root fields' (several `resolve`s
// too: plugins/planned-operations.ts). A plan with holes is kept for the resolver, which
// compiles the same read with them (compiledHere).
rootPlanners.set('resolve', async (ctx, info, args) => {
  if (args.asOf) return asOfPlanner(ctx, info, args as Parameters<typeof asOfPlanner>[2]);
  const organizationId = await readableOrganization(ctx.access, args.organizationId as string | null | undefined);
  const [key] = toKeys([args.input as ResolveInputShape], 'input');
  return compiledResolution(ctx, info, organizationId, key!, true);
});

/**
 * Whether a resolver compiles its lookup: when it was planned before execution (a plan
 * with holes waits for it) or is the operation's only field. Any other lookup among other
 * fields is batched with them (several resolves cost what one resolveMany does).
 */
const compiledHere = (ctx: Context, info: GraphQLResolveInfo) => info.operation.selectionSet.selections.length === 1 || keptForResolver(ctx, info.fieldNodes[0]!);

/** `resolve` of one key compiled (with `holes`, leaving fields with no SQL form to the general path); undefined when not compiled. */
async function compiledResolution(ctx: Context, info: PlanInfo, organizationId: string, key: ResolveKey, holes: boolean) {
  const list = await prebuiltResolutions(ctx, info, organizationId, [key], holes);
  return list && soleElement(list);
}

/** The inputs of `resolveMany`, refused past MAX_RESOLVE_MANY (`inRead`: as a read refuses, when asked before execution). */
function checkedCount(inputs: unknown[], inRead: boolean): void {
  if (inputs.length <= MAX_RESOLVE_MANY) return;
  const issues = new Issues();
  issues.add('inputs', `must hold at most ${MAX_RESOLVE_MANY} items`);
  if (inRead) issues.throwIfAnyInRead();
  else issues.throwIfAny();
}

/** `resolve` (one input) or `resolveMany` (a list) as of a past moment: only a whole operation of that one field is answered. */
async function asOfPlanner(ctx: Context, info: PlanInfo, args: { organizationId?: string | null; input?: ResolveInputShape; inputs?: ResolveInputShape[]; asOf: Date }) {
  const organizationId = await readableOrganization(ctx.access, args.organizationId);
  const many = args.inputs !== undefined;
  if (many) checkedCount(args.inputs!, true);
  const keys = many ? toKeys(args.inputs!, 'inputs') : toKeys([args.input!], 'input');
  const answers = await resolutionsAsOf(ctx, info, organizationId, keys, args.asOf, many ? 'resolveMany' : 'resolve');
  return many ? answers : soleElement(answers);
}

// `resolveMany` is planned as `resolve` is, whatever its keys (the resolver's checks
// first); a plan with holes is kept for the resolver, as for `resolve`.
rootPlanners.set('resolveMany', async (ctx, info, args) => {
  if (args.asOf) return asOfPlanner(ctx, info, args as Parameters<typeof asOfPlanner>[2]);
  const inputs = args.inputs as ResolveInputShape[];
  checkedCount(inputs, true);
  const organizationId = await readableOrganization(ctx.access, args.organizationId as string | null | undefined);
  return prebuiltResolutions(ctx, info, organizationId, toKeys(inputs, 'inputs'), true);
});

const ORGANIZATION_ARG = {
  required: false,
  description: 'The organization to look in: its global id or UUID. Left out, the one X-Organization-ID names.',
} as const;

builder.queryFields((t) => ({
  resolve: t.field({
    type: ResolutionRef,
    nullable: true,
    description:
      'Who is this? Resolves anything a person is known by (an identifier in any source, an email, a phone number, a provider account, an identity key) to the user and identity, with the matching identifiers as evidence. Null when nothing matches; `user` is null when several users match (`ambiguous`, see `candidates`).',
    authScopes: { authenticated: true },
    args: {
      organizationId: t.arg.id(ORGANIZATION_ARG),
      input: t.arg({ type: ResolveInput, description: 'What the person is known by.' }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx, info) => {
      if (args.asOf) return compiledObject<Resolution>((await asOfPlanner(ctx, info, { ...args, asOf: args.asOf })) as JsonText | null, 'Resolution');
      const organizationId = await readableOrganization(ctx.access, args.organizationId);
      const [key] = toKeys([args.input], 'input');
      // Compiled, but for the fields with no SQL form.
      if (compiledHere(ctx, info)) {
        const answer = await compiledResolution(ctx, info, organizationId, key!, true);
        if (answer !== undefined) return compiledObject<Resolution>(answer, 'Resolution');
      }
      return resolver(ctx, info, organizationId).load(key!);
    },
  }),
  resolveMany: t.field({
    type: [ResolutionRef],
    nullable: { list: false, items: true },
    description: `Resolves up to ${MAX_RESOLVE_MANY} keys at once, in input order, each as \`resolve\` does (\`user\` null where several users match); null for each that matches nothing. The cost is a few statements whatever the number.`,
    authScopes: { authenticated: true },
    args: {
      organizationId: t.arg.id(ORGANIZATION_ARG),
      inputs: t.arg({ type: [ResolveInput], description: `What each person is known by; at most ${MAX_RESOLVE_MANY}.` }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx, info) => {
      checkedCount(args.inputs, false);
      if (args.asOf) return compiledList<Resolution>((await asOfPlanner(ctx, info, { ...args, asOf: args.asOf })) as JsonText, 'Resolution');
      const organizationId = await readableOrganization(ctx.access, args.organizationId);
      const keys = toKeys(args.inputs, 'inputs');
      // Compiled, but for the fields with no SQL form (as `resolve`).
      if (compiledHere(ctx, info)) {
        const answer = await prebuiltResolutions(ctx, info, organizationId, keys, true);
        if (answer !== undefined) return compiledList<Resolution>(answer, 'Resolution');
      }
      return resolver(ctx, info, organizationId).loadMany(keys) as Promise<(Resolution | null)[]>;
    },
  }),
}));

// ---- The graph: neighbourhoods and explanations -------------------------------------

const GraphNodeTypeEnum = builder.enumType('GraphNodeType', {
  description: 'What a node of the identity graph is.',
  values: {
    USER: { description: 'A user (a person who can sign in).' },
    IDENTITY: { description: 'An identity of the organization.' },
    IDENTIFIER: { description: 'An identifier found in an integration source.' },
    ORGANIZATION: { description: 'The organization (through a membership).' },
  },
});

const GraphEdgeKindEnum = builder.enumType('GraphEdgeKind', {
  description: 'How two nodes of the identity graph are connected.',
  values: {
    MEMBERSHIP: { description: 'The user is a member of the organization.' },
    OWNS_IDENTIFIER: { description: 'The identifier belongs to the user.' },
    IDENTITY_LINK: { description: 'The identity is linked to the user.' },
    SHARES_VALUE: { description: 'The two hold the same value (an identifier value, an email, a provider account id).' },
  },
});

const TYPENAMES: Record<GraphNodeType, string> = { USER: 'User', IDENTITY: 'Identity', IDENTIFIER: 'Identifier', ORGANIZATION: 'Organization' };
const globalOf = (key: string) => {
  const [type, id] = key.split(':') as [GraphNodeType, string];
  return encodeGlobalID(TYPENAMES[type], id);
};

const GraphNodeRef = builder.objectRef<GraphNode>('GraphNode').implement({
  description: 'A node of the identity graph.',
  fields: (t) => ({
    id: t.id({ description: 'Global id of the object (accepted by `node(id)`).', resolve: (n) => encodeGlobalID(TYPENAMES[n.type], n.id) }),
    type: t.field({ type: GraphNodeTypeEnum, description: 'What the node is.', resolve: (n) => n.type }),
    label: t.string({ description: 'A short human-readable label (name, email or key=value).', resolve: (n) => n.label }),
    depth: t.int({ description: 'Steps from the starting node.', resolve: (n) => n.depth }),
  }),
});

const GraphEdgeRef = builder.objectRef<GraphEdge>('GraphEdge').implement({
  description: 'A connection between two nodes, with its evidence.',
  fields: (t) => ({
    kind: t.field({ type: GraphEdgeKindEnum, description: 'How the nodes are connected.', resolve: (e) => e.kind }),
    from: t.id({ description: 'Global id of one end.', resolve: (e) => globalOf(e.from) }),
    to: t.id({ description: 'Global id of the other end.', resolve: (e) => globalOf(e.to) }),
    confidence: t.float({ nullable: true, description: 'Confidence of the evidence (0 to 1); null when unscored.', resolve: (e) => e.confidence }),
    discoveryMethod: t.field({ type: DiscoveryMethodEnum, nullable: true, description: 'How the identifier behind the edge was found.', resolve: (e) => e.discoveryMethod }),
    sourceId: t.id({ nullable: true, description: 'Global id of the integration source the evidence comes from.', resolve: (e) => (e.sourceId ? encodeGlobalID('IntegrationSource', e.sourceId) : null) }),
    linkedBy: t.field({ type: LinkedByEnum, nullable: true, description: 'Who linked the identity, for IDENTITY_LINK edges.', resolve: (e) => e.linkedBy }),
    at: t.field({ type: 'DateTime', nullable: true, description: 'When the evidence was recorded or last changed.', resolve: (e) => e.at }),
    value: t.string({ nullable: true, description: 'The shared value, for SHARES_VALUE edges.', resolve: (e) => e.value }),
  }),
});

const IdentityGraphRef = builder.objectRef<Graph>('IdentityGraph').implement({
  description: 'A neighbourhood of the identity graph, shaped for drawing.',
  fields: (t) => ({
    nodes: t.field({ type: [GraphNodeRef], description: 'The nodes reached, the start first.', resolve: (g) => g.nodes }),
    edges: t.field({ type: [GraphEdgeRef], description: 'The edges between them.', resolve: (g) => g.edges }),
    truncated: t.boolean({ description: 'Whether the node cap stopped the walk before it was complete.', resolve: (g) => g.truncated }),
  }),
});

const LinkExplanationRef = builder.objectRef<{ steps: GraphEdge[] }>('LinkExplanation').implement({
  description: 'The shortest chain of evidence connecting two objects.',
  fields: (t) => ({
    steps: t.field({ type: [GraphEdgeRef], description: 'Each step, from the first object to the second.', resolve: (x) => x.steps }),
    length: t.int({ description: 'The number of steps.', resolve: (x) => x.steps.length }),
  }),
});

builder.queryFields((t) => ({
  graph: t.field({
    type: IdentityGraphRef,
    nullable: true,
    description:
      'The neighbourhood of a user, identity or identifier in one organization: users, identities, identifiers and the organization as nodes; memberships, ownership, identity links and shared values as edges, each with its evidence. Null when the start is not visible to you.',
    authScopes: { authenticated: true },
    args: {
      organizationId: t.arg.id(ORGANIZATION_ARG),
      from: t.arg.id({ description: 'Global id of a User, Identity or Identifier.' }),
      depth: t.arg.int({ required: false, defaultValue: 1, description: 'How many steps to walk, 1 to 3.' }),
      minConfidence: t.arg.float({ required: false, description: 'Leave out evidence scored below this (0 to 1); unscored evidence counts as certain and stays.' }),
      maxNodes: t.arg.int({ required: false, defaultValue: 200, description: `Stop after this many nodes (at most ${MAX_NODES}); \`truncated\` says so.` }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx) => graphOf(await readableOrganization(ctx.access, args.organizationId), args),
  }),
  explainLink: t.field({
    type: LinkExplanationRef,
    nullable: true,
    description:
      'The shortest chain of shared identifiers and links connecting two users, identities or identifiers of one organization (at most 6 steps), with each step\'s evidence; null when none is found.',
    authScopes: { authenticated: true },
    args: {
      organizationId: t.arg.id(ORGANIZATION_ARG),
      a: t.arg.id({ description: 'Global id of a User, Identity or Identifier.' }),
      b: t.arg.id({ description: 'Global id of another User, Identity or Identifier.' }),
      asOf: t.arg({ type: 'DateTime', required: false, description: AS_OF_DESCRIPTION }),
    },
    resolve: async (_root, args, ctx) => explainLinkOf(await readableOrganization(ctx.access, args.organizationId), args),
  }),
}));
