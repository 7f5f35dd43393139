import {
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  Kind,
  type DocumentNode,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
} from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import { createContext, type Access, type Context, type Viewer } from '../context.ts';
import type { CredentialRead } from '../modules/auth/users.ts';
import { JsonText, rootPlanners, type PlanInfo, type PlanRow } from '../modules/shared/prebuilt.ts';
import { NIL_UUID } from '../modules/shared/visibility.ts';

// Operations answered by one statement, without executing resolvers: a query whose
// only field is a root field with a planner (modules/shared/prebuilt.ts) and whose
// selection the planner knows. The SQL builds the answer exactly as the resolvers
// would (the tests compare the two); anything else, including every error, takes the
// general path. Runs after the plugins that may refuse the operation (limits, input
// checks, rate limits), so they apply alike.
//
// For a bearer token acting in the organization X-Organization-ID names, the plan is
// written before the credential is read and runs inside the credential's statement
// (`speculate`): one statement for the whole request. It is written for the viewer
// such a request usually has, an active member of that organization, and its answer
// is used only when the request's authorization, decided afterwards exactly as for
// every request, agrees: the same user, allowed to read that organization.

interface Root {
  field: FieldNode;
  fragments: Record<string, FragmentDefinitionNode>;
  variableDefinitions: NonNullable<ReturnType<typeof getOperationAST>>['variableDefinitions'];
}

// Documents come from the parse cache; each one is examined once per operation name.
const roots = new WeakMap<DocumentNode, Map<string, Root | null>>();

function rootOf(document: DocumentNode, operationName: string | null | undefined): Root | null {
  let byName = roots.get(document);
  if (!byName) roots.set(document, (byName = new Map()));
  const known = byName.get(operationName ?? '');
  if (known !== undefined) return known;
  const op = getOperationAST(document, operationName);
  const only = op?.selectionSet.selections.length === 1 ? op.selectionSet.selections[0] : undefined;
  let root: Root | null = null;
  if (op?.operation === 'query' && only?.kind === Kind.FIELD && !only.directives?.length && !op.directives?.length && rootPlanners.has(only.name.value)) {
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
    root = { field: only, fragments, variableDefinitions: op.variableDefinitions };
  }
  byName.set(operationName ?? '', root);
  return root;
}

/** The root field's answer from its planner: undefined when it cannot be planned or anything fails. */
async function plan(schema: GraphQLSchema, root: Root, ctx: Context, variableValues: Record<string, unknown> | undefined): Promise<unknown> {
  const variables = getVariableValues(schema, root.variableDefinitions ?? [], variableValues ?? {});
  if (variables.errors) return undefined;
  const field = root.field;
  const definition = schema.getQueryType()!.getFields()[field.name.value]!;
  const info: PlanInfo = { schema, fragments: root.fragments, variableValues: variables.coerced, fieldNodes: [field] };
  try {
    return await rootPlanners.get(field.name.value)!(ctx, info, getArgumentValues(definition, field, variables.coerced));
  } catch {
    return undefined; // The general path answers, with its errors.
  }
}

// The parsed document of each request, for the context factory (parsing comes first).
const documents = new WeakMap<Request, DocumentNode>();
// Answers read with the credential, by the request's Access (Yoga copies the context
// object the factory returns; its Access is the same object).
const answered = new WeakMap<Access, { document: DocumentNode; operationName: string | undefined; answer: Promise<unknown> }>();

/** A plan prepared before the credential is read (see the note at the top). */
export interface Speculation {
  /** For the authenticator: the plan, to run in the credential's statement. */
  read: CredentialRead;
  /** Keeps the answer for the request when `ctx` (final, authorized; null when refused) allows it, and drops it otherwise. */
  settle(ctx: Context | null): void;
}

/** The viewer a plan is written for before the credential is read: an active member of the organization. */
const expectedViewer = (organizationId: string): Viewer => ({
  kind: 'user',
  userId: NIL_UUID,
  isSystemAdmin: false,
  boundOrganizationId: null,
  knownMemberships: new Map([[organizationId, { role: 'ANALYST', state: 'ACTIVE' }]]),
});

/**
 * Writes the plan of the request's operation for a bearer token acting in
 * `organizationId`, when there is one; null otherwise.
 */
export async function speculate(
  schema: GraphQLSchema,
  request: Request,
  params: GraphQLParams,
  organizationId: string,
  requestId: string,
): Promise<Speculation | null> {
  const document = documents.get(request);
  const root = document && rootOf(document, params.operationName);
  if (!document || !root) return null;
  let captured: { text: string; params: unknown[] } | undefined;
  let noteCaptured!: () => void;
  const capturedNow = new Promise<void>((resolve) => (noteCaptured = resolve));
  let deliver!: (row: PlanRow | null) => void;
  let refuse!: (reason: Error) => void;
  const answer = new Promise<PlanRow | null>((resolve, reject) => ((deliver = resolve), (refuse = reject)));
  answer.catch(() => {});
  const provisional = createContext({ viewer: expectedViewer(organizationId), requestedOrganizationId: organizationId, requestId });
  provisional.planCapture = {
    // The user lookup's own parameters are $1 (subject) and $2 (organization); its row is `cred`.
    viewerSql: 'cred.id',
    paramOffset: 2,
    run(text, values) {
      captured = { text, params: values };
      noteCaptured();
      return answer;
    },
  };
  const planned = plan(schema, root, provisional, params.variables as Record<string, unknown> | undefined);
  await Promise.race([capturedNow, planned]);
  if (!captured) return null;
  let read: { row: PlanRow | null; userId: string } | undefined;
  return {
    read: { ...captured, done: (result) => void (read = result) },
    settle(ctx) {
      const viewer = ctx?.viewer;
      // The plan assumed this user, acting in this organization, allowed to read it: the
      // context factory refuses (ctx null) a request whose viewer may not read it.
      if (ctx && read && viewer?.kind === 'user' && viewer.userId === read.userId && !viewer.boundOrganizationId && ctx.requestedOrganizationId === organizationId) {
        deliver(read.row);
        answered.set(ctx.access, { document, operationName: params.operationName, answer: planned });
      } else {
        refuse(new Error('read with the credential not used'));
      }
    },
  };
}

// The JSON text of a planned answer goes into the response as it is: Yoga serializes a
// result with its `stringify` when it has one (JSON, server-sent events, multipart,
// each result of a batch), which spares a JSON.parse and a JSON.stringify of the
// answer (README, Performance). Any other serialization (say, of a
// result another plugin replaced) gets JsonText's value.
const PLACEHOLDER = '\u0000planned answer\u0000';
const MARK = JSON.stringify(PLACEHOLDER);

function stringify(result: ExecutionResult): string {
  const data = result.data;
  const keys = data ? Object.keys(data) : [];
  const answer = keys.length === 1 ? data![keys[0]!] : undefined;
  if (!(answer instanceof JsonText)) return JSON.stringify(result);
  const text = JSON.stringify({ ...result, data: { [keys[0]!]: PLACEHOLDER } });
  const at = text.indexOf(MARK);
  return text.slice(0, at) + answer.text + text.slice(at + MARK.length);
}

export function usePlannedOperations(): Plugin {
  return {
    onParse({ context }) {
      return ({ result }) => {
        const request = (context as { request?: Request }).request;
        if (request && result && (result as DocumentNode).kind === Kind.DOCUMENT) documents.set(request, result as DocumentNode);
      };
    },
    async onExecute({ args, setResultAndStopExecution }) {
      const root = rootOf(args.document, args.operationName);
      const ctx = args.contextValue as unknown as Context;
      if (!root || ctx.viewer.kind === 'anonymous') return;
      const early = answered.get(ctx.access);
      let answer = early && early.document === args.document && (early.operationName ?? null) === (args.operationName ?? null) ? await early.answer : undefined;
      if (answer === undefined) answer = await plan(args.schema, root, ctx, args.variableValues as Record<string, unknown> | undefined);
      const field = root.field;
      if (answer !== undefined) setResultAndStopExecution({ data: { [field.alias?.value ?? field.name.value]: answer }, stringify } as ExecutionResult);
    },
  };
}
