import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's folder (holding prisma/ and examples/): the nearest one above this
 * module with prisma/schema.prisma, whether the server runs from src/ or from a
 * bundle in dist/.
 */
export const PROJECT_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'prisma', 'schema.prisma'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('prisma/schema.prisma not found above the server');
    dir = parent;
  }
  return dir;
})();
