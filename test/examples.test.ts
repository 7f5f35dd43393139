import { describe, expect, it } from 'vitest';
import { DuplicateCandidatesDocument, OrganizationMembersDocument, UpsertIdentifierDocument, WhoIsThisDocument } from '../src/client/graphql.ts';
import { expectNoErrors, gql } from './helpers/app.ts';
import { aMember, aSource, aTenantWithMember, aUser } from './helpers/factories.ts';

// The example operations of examples/operations.graphql (what GraphiQL opens with, and
// what frontends start from), run through their generated typed documents.

describe('the example operations', () => {
  it('record an identifier, resolve the person from it, and list the members', async () => {
    const { organization, user: analyst } = await aTenantWithMember();
    await aSource(organization.id, { key: 'salesforce' });
    const ada = await aUser({ email: 'ada.example@example.com', name: 'Ada' });
    await aMember(organization.id, ada.id);
    const as = { asUser: analyst, organizationId: organization.id };

    const upsert = await gql(UpsertIdentifierDocument, {
      ...as,
      variables: {
        input: { userEmail: ada.email, sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: '005XYZ', discoveryMethod: 'MCP_TOOL', confidenceScore: 0.8 },
      },
    });
    expectNoErrors(upsert);
    const written = upsert.data!.upsertIdentifier;
    expect(written.__typename).toBe('UpsertIdentifierSuccess');
    if (written.__typename === 'UpsertIdentifierSuccess') expect(written.created).toBe(true);

    // The example's default variables ask for exactly this identifier.
    const who = await gql(WhoIsThisDocument, { ...as });
    expectNoErrors(who);
    expect(who.data!.resolve?.user?.email).toBe(ada.email);
    expect(who.data!.resolve?.matchedIdentifiers[0]).toMatchObject({ identifierValue: '005XYZ', confidenceScore: 0.8, discoveryMethod: 'MCP_TOOL' });

    const members = await gql(OrganizationMembersDocument, { ...as, variables: { slug: organization.slug, search: 'ada' } });
    expectNoErrors(members);
    expect(members.data!.organization?.members?.edges.map((e) => e.node.user.email)).toEqual([ada.email]);

    // Someone else recorded with the same owner_id is a candidate duplicate of Ada.
    const twin = await aUser({ email: 'ada.twin@example.com' });
    await aMember(organization.id, twin.id);
    await gql(UpsertIdentifierDocument, {
      ...as,
      variables: { input: { userEmail: twin.email, sourceKey: 'salesforce', identifierKey: 'owner_id', identifierValue: '005XYZ', discoveryMethod: 'LLM_DISCOVERY' } },
    });
    const duplicates = await gql(DuplicateCandidatesDocument, { ...as, variables: { userId: ada.id } });
    expectNoErrors(duplicates);
    expect(duplicates.data!.matchCandidates).toEqual([
      expect.objectContaining({ score: 0.72, user: expect.objectContaining({ email: twin.email }), suggestion: expect.objectContaining({ state: 'SUGGESTED' }) }),
    ]);
  });
});
