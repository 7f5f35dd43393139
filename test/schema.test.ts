import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printedSchema } from '../src/print-schema.ts';
import { sortedSchema } from '../src/schema.ts';
import { isObjectType, isInputObjectType, isEnumType, isInterfaceType, isUnionType } from 'graphql';

describe('schema.graphql', () => {
  it('matches the schema the code builds (run `npm run schema:print` when this fails)', async () => {
    const committed = await readFile(new URL('../schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printedSchema());
  });

  it('documents every public type, field and argument', () => {
    const missing: string[] = [];
    for (const type of Object.values(sortedSchema().getTypeMap())) {
      // Introspection types, and federation's own (_Any, _Entity, _Service), are not ours to document.
      if (type.name.startsWith('_')) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (field.name.startsWith('_')) continue;
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
      if (isUnionType(type) && !type.description) missing.push(type.name);
    }
    expect(missing).toEqual([]);
  });
});
