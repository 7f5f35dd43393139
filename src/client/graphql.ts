/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** How an identifier came to be known. */
export type DiscoveryMethod =
  /** Inferred by an LLM discovery job; usually carries a confidence score. */
  | 'LLM_DISCOVERY'
  /** Entered by a person. */
  | 'MANUAL'
  /** Recorded by an agent through an MCP tool. */
  | 'MCP_TOOL';

/** Stable error codes: `extensions.code` of GraphQL errors and `code` of typed errors. */
export type ErrorCode =
  /** An input value is invalid; `issues` says which and why. */
  | 'BAD_USER_INPUT'
  /** A unique value is already taken; `fields` says which. */
  | 'CONFLICT'
  /** The credential may not do this. */
  | 'FORBIDDEN'
  /** An unexpected error; its details are in the server log under the request id. */
  | 'INTERNAL_SERVER_ERROR'
  /** The object does not exist or is not visible to you. */
  | 'NOT_FOUND'
  /** Too many requests; retry after the time in Retry-After. */
  | 'RATE_LIMITED'
  /** A dependency (the database) is unavailable; retry later. */
  | 'SERVICE_UNAVAILABLE'
  /** The credential belongs to another organization than the request names. */
  | 'TENANT_MISMATCH'
  /** No valid credential was sent. */
  | 'UNAUTHENTICATED';

/** What kind of value two objects share. */
export type MatchEvidenceKind =
  /** An email address (of a user, an identity, or an identifier holding one). */
  | 'EMAIL'
  /** An identifier value. */
  | 'IDENTIFIER_VALUE'
  /** A phone number. */
  | 'PHONE';

/** What a member may do in an organization. */
export type MemberRole =
  /** Reads the organization; writes identifiers and identities. */
  | 'ANALYST'
  /** Everything inside the organization. */
  | 'ORGANIZATION_ADMIN'
  /** Everything; granted only by a system admin. */
  | 'SYSTEM_ADMIN';

/** Whether a membership grants anything. Only ACTIVE members are granted their role. */
export type MembershipState =
  /** In effect. */
  | 'ACTIVE'
  /** Invited; becomes ACTIVE when the user first signs in. */
  | 'PENDING'
  /** Switched off by an admin. */
  | 'SUSPENDED';

/** An account at an identity provider. */
export type ResolveExternalAccountInput = {
  /** The account's id at the provider. */
  externalId: string;
  /**
   * The identity provider source: its key or id.
   * @deprecated Use sourceKey (or sourceId), as every other input does. Given beside them, it must name the same source.
   */
  source?: string | null | undefined;
  /** The identity provider source, by global id (or UUID). Give this or sourceKey. */
  sourceId?: string | number | null | undefined;
  /** The identity provider source, by key, e.g. `okta`. Give this or sourceId. */
  sourceKey?: string | null | undefined;
};

/** An identifier as an integration knows it: `identifierKey = identifierValue` in a source. */
export type ResolveIdentifierInput = {
  /** The field name in the source, e.g. `owner_id`. */
  identifierKey: string;
  /** The value as the source has it; compared normalised as the source would store it (an email in any case, a phone number in any format). */
  identifierValue: string;
  /**
   * The integration source: its key or id.
   * @deprecated Use sourceKey (or sourceId), as every other input does. Given beside them, it must name the same source.
   */
  source?: string | null | undefined;
  /** The integration source, by global id (or UUID). Give this or sourceKey. */
  sourceId?: string | number | null | undefined;
  /** The integration source, by key, e.g. `salesforce`. Give this or sourceId. */
  sourceKey?: string | null | undefined;
};

/** One thing a person is known by. Give exactly one field. */
export type ResolveInput =
  {   /** An email address (matched case-insensitively). */
  email: string; externalAccount?: never; identifier?: never; identityKey?: never; phoneNumber?: never; }
  |  { email?: never;   /** An account at an identity provider. */
  externalAccount: ResolveExternalAccountInput; identifier?: never; identityKey?: never; phoneNumber?: never; }
  |  { email?: never; externalAccount?: never;   /** An identifier in an integration source. */
  identifier: ResolveIdentifierInput; identityKey?: never; phoneNumber?: never; }
  |  { email?: never; externalAccount?: never; identifier?: never;   /** An identity's identifierKey. */
  identityKey: string; phoneNumber?: never; }
  |  { email?: never; externalAccount?: never; identifier?: never; identityKey?: never;   /** A phone number: with its country code in any format, or in a national format of the organization's default phone region (normalised to E.164 before matching). */
  phoneNumber: string; };

/** Where a link suggestion stands. */
export type SuggestionState =
  /** Approved: the users were merged, or the identity linked to the user. */
  | 'APPROVED'
  /** Rejected: the pair is never suggested again. */
  | 'REJECTED'
  /** Waiting for review. */
  | 'SUGGESTED';

/** An identifier to create, or to update when the user already has one with this key in this source. Every value is set as given: a score or metadata left out is cleared. */
export type UpsertIdentifierInput = {
  /** How sure the discovery is, from 0 to 1; null or left out when not scored. */
  confidenceScore?: number | null | undefined;
  /** Context of the discovery: a JSON object of at most 16 KB; null or left out for none. */
  discoveryMetadata?: Record<string, unknown> | null | undefined;
  /** How it was found out. */
  discoveryMethod: DiscoveryMethod;
  /** Field name in the source, e.g. `owner_id`, up to 255 characters. With user and source, the natural key. */
  identifierKey: string;
  /** The value the source knows the user by, up to 1024 characters; kept as written. */
  identifierValue: string;
  /** The organization: its global id (or UUID). Left out, the organization X-Organization-ID names. */
  organizationId?: string | number | null | undefined;
  /** The integration source: its global id (or UUID). Give this or sourceKey. */
  sourceId?: string | number | null | undefined;
  /** The integration source: its key in the organization, e.g. `salesforce`. Give this or sourceId. */
  sourceKey?: string | null | undefined;
  /** The user: email of a member of the organization. Give this or userId. */
  userEmail?: string | null | undefined;
  /** The user: global id (or UUID) of a member of the organization. Give this or userEmail. */
  userId?: string | number | null | undefined;
  /** What the value is; left out or null, inferred from the key and value (README, Matching). */
  valueKind?: ValueKind | null | undefined;
};

/** What an identifier's value is. It decides how the value is normalised, and so what it matches: given by the writer, or inferred from the key and value (README, Matching). */
export type ValueKind =
  /** An email address: compared trimmed and lower-cased (plus-addressing and dots kept). */
  | 'EMAIL'
  /** Anything else (ids, handles): compared trimmed, case kept. */
  | 'OTHER'
  /** A phone number: compared in E.164, national formats read with the source's or organization's default region. */
  | 'PHONE'
  /** An http(s) URL: compared lower-cased, without trailing slashes. */
  | 'URL';

export type WhoIsThisQueryVariables = Exact<{
  input?: ResolveInput;
}>;


export type WhoIsThisQuery = { resolve: { ambiguous: boolean, candidates: Array<{ id: string, email: string }>, user: { id: string, email: string, name: string | null, memberships: Array<{ role: MemberRole, state: MembershipState, organization: { slug: string, name: string } }>, identifiers: { totalCount: number, edges: Array<{ node: { identifierKey: string, identifierValue: string, confidenceScore: number | null, discoveryMethod: DiscoveryMethod } }> } } | null, identity: { identifierKey: string, name: string } | null, matchedIdentifiers: Array<{ identifierKey: string, identifierValue: string, confidenceScore: number | null, discoveryMethod: DiscoveryMethod }> } | null };

export type OrganizationMembersQueryVariables = Exact<{
  slug?: string;
  first?: number | null | undefined;
  after?: string | null | undefined;
  search?: string | null | undefined;
}>;


export type OrganizationMembersQuery = { organization: { name: string, members: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, edges: Array<{ node: { role: MemberRole, state: MembershipState, user: { email: string, name: string | null } } }> } | null } | null };

export type UpsertIdentifierMutationVariables = Exact<{
  input?: UpsertIdentifierInput;
}>;


export type UpsertIdentifierMutation = { upsertIdentifier:
    | { __typename: 'ConflictError', code: ErrorCode, message: string }
    | { __typename: 'NotFoundError', code: ErrorCode, message: string }
    | { __typename: 'UpsertIdentifierSuccess', created: boolean, identifier: { id: string, identifierKey: string, identifierValue: string, confidenceScore: number | null, discoveryMethod: DiscoveryMethod } }
    | { __typename: 'ValidationError', code: ErrorCode, message: string, issues: Array<{ path: string, message: string }> }
   };

export type DuplicateCandidatesQueryVariables = Exact<{
  userId?: string | number;
}>;


export type DuplicateCandidatesQuery = { matchCandidates: Array<{ score: number, user: { id: string, email: string, name: string | null } | null, identity: { id: string, name: string } | null, evidence: Array<{ kind: MatchEvidenceKind, value: string, subjectField: string, subjectSource: string | null, candidateField: string, candidateSource: string | null, weight: number }>, suggestion: { id: string, state: SuggestionState } | null }> };


export const WhoIsThisDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"WhoIsThis"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ResolveInput"}}},"defaultValue":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"identifier"},"value":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"sourceKey"},"value":{"kind":"StringValue","value":"salesforce","block":false}},{"kind":"ObjectField","name":{"kind":"Name","value":"identifierKey"},"value":{"kind":"StringValue","value":"owner_id","block":false}},{"kind":"ObjectField","name":{"kind":"Name","value":"identifierValue"},"value":{"kind":"StringValue","value":"005XYZ","block":false}}]}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"resolve"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"ambiguous"}},{"kind":"Field","name":{"kind":"Name","value":"candidates"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}},{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"memberships"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"organization"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"slug"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"identifiers"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"IntValue","value":"50"}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"identifierKey"}},{"kind":"Field","name":{"kind":"Name","value":"identifierValue"}},{"kind":"Field","name":{"kind":"Name","value":"confidenceScore"}},{"kind":"Field","name":{"kind":"Name","value":"discoveryMethod"}}]}}]}}]}}]}},{"kind":"Field","name":{"kind":"Name","value":"identity"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"identifierKey"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"matchedIdentifiers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"identifierKey"}},{"kind":"Field","name":{"kind":"Name","value":"identifierValue"}},{"kind":"Field","name":{"kind":"Name","value":"confidenceScore"}},{"kind":"Field","name":{"kind":"Name","value":"discoveryMethod"}}]}}]}}]}}]} as unknown as DocumentNode<WhoIsThisQuery, WhoIsThisQueryVariables>;
export const OrganizationMembersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"OrganizationMembers"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"slug"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},"defaultValue":{"kind":"StringValue","value":"demo","block":false}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}},"defaultValue":{"kind":"IntValue","value":"50"}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"search"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"organization"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"slug"},"value":{"kind":"Variable","name":{"kind":"Name","value":"slug"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"members"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"search"},"value":{"kind":"Variable","name":{"kind":"Name","value":"search"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"edges"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"node"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"state"}},{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]}}]}}]}}]} as unknown as DocumentNode<OrganizationMembersQuery, OrganizationMembersQueryVariables>;
export const UpsertIdentifierDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpsertIdentifier"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"UpsertIdentifierInput"}}},"defaultValue":{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"userEmail"},"value":{"kind":"StringValue","value":"ada.lovelace@demo.test","block":false}},{"kind":"ObjectField","name":{"kind":"Name","value":"sourceKey"},"value":{"kind":"StringValue","value":"zendesk","block":false}},{"kind":"ObjectField","name":{"kind":"Name","value":"identifierKey"},"value":{"kind":"StringValue","value":"requester_id","block":false}},{"kind":"ObjectField","name":{"kind":"Name","value":"identifierValue"},"value":{"kind":"StringValue","value":"36000815","block":false}},{"kind":"ObjectField","name":{"kind":"Name","value":"discoveryMethod"},"value":{"kind":"EnumValue","value":"MANUAL"}},{"kind":"ObjectField","name":{"kind":"Name","value":"confidenceScore"},"value":{"kind":"IntValue","value":"1"}}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"upsertIdentifier"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"__typename"}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"UpsertIdentifierSuccess"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"created"}},{"kind":"Field","name":{"kind":"Name","value":"identifier"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"identifierKey"}},{"kind":"Field","name":{"kind":"Name","value":"identifierValue"}},{"kind":"Field","name":{"kind":"Name","value":"confidenceScore"}},{"kind":"Field","name":{"kind":"Name","value":"discoveryMethod"}}]}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"Error"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"code"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}},{"kind":"InlineFragment","typeCondition":{"kind":"NamedType","name":{"kind":"Name","value":"ValidationError"}},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"issues"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"path"}},{"kind":"Field","name":{"kind":"Name","value":"message"}}]}}]}}]}}]}}]} as unknown as DocumentNode<UpsertIdentifierMutation, UpsertIdentifierMutationVariables>;
export const DuplicateCandidatesDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"DuplicateCandidates"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"userId"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}},"defaultValue":{"kind":"StringValue","value":"VXNlcjozMTYwOWVjMC01N2I1LTRkNTItOGFhNC04MWFmYzU2OGQzNWI=","block":false}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"matchCandidates"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"userId"},"value":{"kind":"Variable","name":{"kind":"Name","value":"userId"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"score"}},{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"identity"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}},{"kind":"Field","name":{"kind":"Name","value":"evidence"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"value"}},{"kind":"Field","name":{"kind":"Name","value":"subjectField"}},{"kind":"Field","name":{"kind":"Name","value":"subjectSource"}},{"kind":"Field","name":{"kind":"Name","value":"candidateField"}},{"kind":"Field","name":{"kind":"Name","value":"candidateSource"}},{"kind":"Field","name":{"kind":"Name","value":"weight"}}]}},{"kind":"Field","name":{"kind":"Name","value":"suggestion"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"state"}}]}}]}}]}}]} as unknown as DocumentNode<DuplicateCandidatesQuery, DuplicateCandidatesQueryVariables>;