import { readFileSync, writeFileSync } from 'node:fs';
import { SUGGEST_MIN_STRENGTH } from '../../src/modules/matching/links.ts';
import type { Population } from './generate.ts';
import { AUTO_APPROVE } from './load.ts';
import { rate, type Rate, type Scores } from './score.ts';

// The targets the matching is held to (README, "Matching quality"), the table of a
// run, and its place in README between markers.

export const TARGETS = {
  resolveRecall: 1,
  autoPrecision: 0.995,
  suggestionRecallSharing: 0.95,
} as const;

/** The targets a run missed, each with its number; empty when all are met. */
export function missedTargets(s: Scores): string[] {
  const missed: string[] = [];
  if (rate(s.resolve.recall) < TARGETS.resolveRecall) missed.push(`resolve recall ${fmt(s.resolve.recall)} < ${TARGETS.resolveRecall}`);
  if (rate(s.auto.precision) < TARGETS.autoPrecision) missed.push(`auto-linking precision ${fmt(s.auto.precision)} < ${TARGETS.autoPrecision}`);
  if (rate(s.suggestions.recallSharing) < TARGETS.suggestionRecallSharing) {
    missed.push(`suggestion recall (shared email or phone) ${fmt(s.suggestions.recallSharing)} < ${TARGETS.suggestionRecallSharing}`);
  }
  return missed;
}

const fmt = (r: Rate) => `${rate(r).toFixed(3)} (${r.hit}/${r.of})`;

/** The run's table (Markdown), with what was generated. */
export function table(population: Population, s: Scores): string {
  const users = population.users.length;
  const identifiers = population.users.reduce((n, u) => n + u.identifiers.length, 0);
  const rows: [string, string, string][] = [
    [`resolve: recall, ${s.resolve.queries} lookups`, fmt(s.resolve.recall), `${TARGETS.resolveRecall.toFixed(1)}`],
    ['resolve: precision (a single user answered is the person)', fmt(s.resolve.precision), ''],
    ['resolve: values several people hold, ambiguous with the person among candidates', fmt(s.resolve.sharedAmbiguous), ''],
    ["resolve: one person's values answered ambiguous (their own two accounts)", String(s.resolve.ownAccountsAmbiguous), ''],
    [`suggestions (evidence strength ≥ ${SUGGEST_MIN_STRENGTH}) and automatic links: pairs`, String(s.suggestions.count), ''],
    ['suggestions: precision', fmt(s.suggestions.precision), ''],
    ['suggestions: recall, same-person pairs sharing an email or phone', fmt(s.suggestions.recallSharing), `≥ ${TARGETS.suggestionRecallSharing}`],
    ['suggestions: recall, all same-person pairs (typos included)', fmt(s.suggestions.recallAll), ''],
    [`suggestions scored ≥ ${SUGGEST_MIN_STRENGTH}: pairs`, String(s.atThreshold.count), ''],
    [`suggestions scored ≥ ${SUGGEST_MIN_STRENGTH}: precision`, fmt(s.atThreshold.precision), ''],
    [`suggestions scored ≥ ${SUGGEST_MIN_STRENGTH}: recall, same-person pairs sharing an email or phone`, fmt(s.atThreshold.recallSharing), ''],
    [`auto-linking at ${AUTO_APPROVE}: pairs`, String(s.auto.count), ''],
    [`auto-linking at ${AUTO_APPROVE}: precision`, fmt(s.auto.precision), `≥ ${TARGETS.autoPrecision}`],
    [`auto-linking at ${AUTO_APPROVE}: recall, all same-person pairs`, fmt(s.auto.recall), ''],
  ];
  return [
    `${population.people} people (seed ${population.seed}): ${users} users, ${identifiers} identifiers, ${population.identities.length} identities.`,
    '',
    '| measure | value | target |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
}

const START = '<!-- matching quality: start -->';
const END = '<!-- matching quality: end -->';

/** Replaces the table between README's matching quality markers; false when README has none. */
export function updateReadme(file: string, md: string): boolean {
  const text = readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return false;
  writeFileSync(file, `${text.slice(0, a + START.length)}\n${md}${text.slice(b)}`);
  return true;
}
