import type { Context } from '../../context.ts';
import { lookupNeedsRegion, lookupValues } from '../matching/normalise.ts';
import { sourceRegions } from '../matching/regions.ts';
import { checkedMoment } from '../shared/as-of.ts';
import { JsonText, notAsOf, prebuiltResolutionsAsOf, type PlanInfo } from '../shared/engine/index.ts';
import type { ResolveKey } from './resolve.ts';

// `resolve` and `resolveMany` as of a past moment: the identifiers that held each value
// then, by their normalised value, and their user then, read from history by the engine
// (the rule of the present's compiled resolve, over the versions valid then), all keys
// in one statement.
// Only identifier keys are answered so; any other key answers BAD_USER_INPUT.

/** The resolutions of the keys as of `asOf`, in order, as a JSON list (null where nothing matched); one statement. */
export async function resolutionsAsOf(
  ctx: Context,
  info: PlanInfo,
  organizationId: string,
  keys: ResolveKey[],
  asOf: Date,
  field: string,
): Promise<JsonText> {
  const moment = await checkedMoment(organizationId, asOf);
  const other = keys.find((k) => k.kind !== 'identifier');
  if (other) throw notAsOf(field, `resolving by ${other.kind === 'external' ? 'externalAccount' : other.kind === 'phone' ? 'phoneNumber' : other.kind}`);
  const identifierKeys = keys as Extract<ResolveKey, { kind: 'identifier' }>[];
  // A national phone number is read in its source's region, as a present lookup reads it.
  const regional = identifierKeys.filter((k) => lookupNeedsRegion(k.identifierKey, k.identifierValue));
  const regions = regional.length ? await sourceRegions(organizationId, regional.map((k) => k.source)) : null;
  if (!identifierKeys.length) return new JsonText('[]');
  // The forms each key is looked up by, first first (lookupValues: as inferred, then as a phone number).
  const forms = identifierKeys.map((k) => ({ ...k, forms: lookupValues(k.identifierKey, k.identifierValue, regions?.get(k.source)) }));
  return prebuiltResolutionsAsOf(ctx, info, organizationId, forms, moment);
}
