import type { Context } from '../../context.ts';
import { lookupNeedsRegion, lookupValues } from '../matching/normalise.ts';
import { sourceRegions } from '../matching/regions.ts';
import { checkedMoment } from '../shared/as-of.ts';
import { JsonText, notAsOf, prebuiltResolution, type PlanInfo } from '../shared/engine/index.ts';
import type { ResolveKey } from './resolve.ts';

// `resolve` and `resolveMany` as of a past moment: the identifiers that held each value
// then, by their normalised value, and their user then, read from history by the engine
// (the statement the present's compiled resolve runs, over the versions valid then).
// Only identifier keys are answered so; any other key answers BAD_USER_INPUT.

/** The resolution of each key as of `asOf`, in order (JSON text; null where nothing matched). */
export async function resolutionsAsOf(
  ctx: Context,
  info: PlanInfo,
  organizationId: string,
  keys: ResolveKey[],
  asOf: Date,
  field: string,
): Promise<(JsonText | null)[]> {
  const moment = await checkedMoment(organizationId, asOf);
  const other = keys.find((k) => k.kind !== 'identifier');
  if (other) throw notAsOf(field, `resolving by ${other.kind === 'external' ? 'externalAccount' : other.kind === 'phone' ? 'phoneNumber' : other.kind}`);
  const identifierKeys = keys as Extract<ResolveKey, { kind: 'identifier' }>[];
  // A national phone number is read in its source's region, as a present lookup reads it.
  const regional = identifierKeys.filter((k) => lookupNeedsRegion(k.identifierKey, k.identifierValue));
  const regions = regional.length ? await sourceRegions(organizationId, regional.map((k) => k.source)) : null;
  const answers: (JsonText | null)[] = [];
  for (const k of identifierKeys) {
    // The first normalised form that was held then (lookupValues: as inferred, then as a phone number).
    let answer: JsonText | null = null;
    for (const normalizedValue of lookupValues(k.identifierKey, k.identifierValue, regions?.get(k.source))) {
      answer ??= (await prebuiltResolution(ctx, info, organizationId, { ...k, normalizedValue }, moment)) ?? null;
    }
    answers.push(answer);
  }
  return answers;
}

/** A list of answers as one JSON text. */
export const listOf = (answers: (JsonText | null)[]) => new JsonText(`[${answers.map((a) => a?.text ?? 'null').join(',')}]`);
