/* eslint-disable */
import * as types from './graphql.ts';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query WhoIsThis($input: ResolveInput! = {identifier: {source: \"salesforce\", identifierKey: \"owner_id\", identifierValue: \"005XYZ\"}}) {\n  resolve(input: $input) {\n    ambiguous\n    user {\n      id\n      email\n      name\n      memberships {\n        role\n        state\n        organization {\n          slug\n          name\n        }\n      }\n      identifiers(first: 50) {\n        totalCount\n        edges {\n          node {\n            identifierKey\n            identifierValue\n            confidenceScore\n            discoveryMethod\n          }\n        }\n      }\n    }\n    identity {\n      identifierKey\n      name\n    }\n    matchedIdentifiers {\n      identifierKey\n      identifierValue\n      confidenceScore\n      discoveryMethod\n    }\n  }\n}\n\nquery OrganizationMembers($slug: String!, $first: Int = 50, $after: String, $search: String) {\n  organization(slug: $slug) {\n    name\n    members(first: $first, after: $after, search: $search) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          role\n          state\n          user {\n            email\n            name\n          }\n        }\n      }\n    }\n  }\n}\n\nmutation UpsertIdentifier($input: UpsertIdentifierInput!) {\n  upsertIdentifier(input: $input) {\n    __typename\n    ... on UpsertIdentifierSuccess {\n      created\n      identifier {\n        id\n        identifierKey\n        identifierValue\n        confidenceScore\n        discoveryMethod\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on ValidationError {\n      issues {\n        path\n        message\n      }\n    }\n  }\n}": typeof types.WhoIsThisDocument,
};
const documents: Documents = {
    "query WhoIsThis($input: ResolveInput! = {identifier: {source: \"salesforce\", identifierKey: \"owner_id\", identifierValue: \"005XYZ\"}}) {\n  resolve(input: $input) {\n    ambiguous\n    user {\n      id\n      email\n      name\n      memberships {\n        role\n        state\n        organization {\n          slug\n          name\n        }\n      }\n      identifiers(first: 50) {\n        totalCount\n        edges {\n          node {\n            identifierKey\n            identifierValue\n            confidenceScore\n            discoveryMethod\n          }\n        }\n      }\n    }\n    identity {\n      identifierKey\n      name\n    }\n    matchedIdentifiers {\n      identifierKey\n      identifierValue\n      confidenceScore\n      discoveryMethod\n    }\n  }\n}\n\nquery OrganizationMembers($slug: String!, $first: Int = 50, $after: String, $search: String) {\n  organization(slug: $slug) {\n    name\n    members(first: $first, after: $after, search: $search) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          role\n          state\n          user {\n            email\n            name\n          }\n        }\n      }\n    }\n  }\n}\n\nmutation UpsertIdentifier($input: UpsertIdentifierInput!) {\n  upsertIdentifier(input: $input) {\n    __typename\n    ... on UpsertIdentifierSuccess {\n      created\n      identifier {\n        id\n        identifierKey\n        identifierValue\n        confidenceScore\n        discoveryMethod\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on ValidationError {\n      issues {\n        path\n        message\n      }\n    }\n  }\n}": types.WhoIsThisDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query WhoIsThis($input: ResolveInput! = {identifier: {source: \"salesforce\", identifierKey: \"owner_id\", identifierValue: \"005XYZ\"}}) {\n  resolve(input: $input) {\n    ambiguous\n    user {\n      id\n      email\n      name\n      memberships {\n        role\n        state\n        organization {\n          slug\n          name\n        }\n      }\n      identifiers(first: 50) {\n        totalCount\n        edges {\n          node {\n            identifierKey\n            identifierValue\n            confidenceScore\n            discoveryMethod\n          }\n        }\n      }\n    }\n    identity {\n      identifierKey\n      name\n    }\n    matchedIdentifiers {\n      identifierKey\n      identifierValue\n      confidenceScore\n      discoveryMethod\n    }\n  }\n}\n\nquery OrganizationMembers($slug: String!, $first: Int = 50, $after: String, $search: String) {\n  organization(slug: $slug) {\n    name\n    members(first: $first, after: $after, search: $search) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          role\n          state\n          user {\n            email\n            name\n          }\n        }\n      }\n    }\n  }\n}\n\nmutation UpsertIdentifier($input: UpsertIdentifierInput!) {\n  upsertIdentifier(input: $input) {\n    __typename\n    ... on UpsertIdentifierSuccess {\n      created\n      identifier {\n        id\n        identifierKey\n        identifierValue\n        confidenceScore\n        discoveryMethod\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on ValidationError {\n      issues {\n        path\n        message\n      }\n    }\n  }\n}"): (typeof documents)["query WhoIsThis($input: ResolveInput! = {identifier: {source: \"salesforce\", identifierKey: \"owner_id\", identifierValue: \"005XYZ\"}}) {\n  resolve(input: $input) {\n    ambiguous\n    user {\n      id\n      email\n      name\n      memberships {\n        role\n        state\n        organization {\n          slug\n          name\n        }\n      }\n      identifiers(first: 50) {\n        totalCount\n        edges {\n          node {\n            identifierKey\n            identifierValue\n            confidenceScore\n            discoveryMethod\n          }\n        }\n      }\n    }\n    identity {\n      identifierKey\n      name\n    }\n    matchedIdentifiers {\n      identifierKey\n      identifierValue\n      confidenceScore\n      discoveryMethod\n    }\n  }\n}\n\nquery OrganizationMembers($slug: String!, $first: Int = 50, $after: String, $search: String) {\n  organization(slug: $slug) {\n    name\n    members(first: $first, after: $after, search: $search) {\n      totalCount\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      edges {\n        node {\n          role\n          state\n          user {\n            email\n            name\n          }\n        }\n      }\n    }\n  }\n}\n\nmutation UpsertIdentifier($input: UpsertIdentifierInput!) {\n  upsertIdentifier(input: $input) {\n    __typename\n    ... on UpsertIdentifierSuccess {\n      created\n      identifier {\n        id\n        identifierKey\n        identifierValue\n        confidenceScore\n        discoveryMethod\n      }\n    }\n    ... on Error {\n      code\n      message\n    }\n    ... on ValidationError {\n      issues {\n        path\n        message\n      }\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;