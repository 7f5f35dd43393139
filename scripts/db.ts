// Database tooling: `migrate` applies pending migrations (to DATABASE_URL, or to the
// embedded database when it is unset), `create <name>` writes a new migration from
// the changes in prisma/schema.prisma, `check` fails when the two disagree.
import { createMigration, diffMigrationsToSchema } from '../src/db/migrate.ts';
import { openDatabase } from '../src/db.ts';
import { loadConfig } from '../src/config.ts';

const [command, arg] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (command) {
    case 'migrate': {
      const config = loadConfig();
      const db = await openDatabase(config, { migrate: true });
      console.log(
        db.appliedMigrations.length
          ? `Applied ${db.appliedMigrations.length} migration(s) to ${db.describe}:\n  ${db.appliedMigrations.join('\n  ')}`
          : `${db.describe} is up to date.`,
      );
      await db.close();
      return 0;
    }
    case 'create': {
      if (!arg) {
        console.error('usage: npm run db:migration:create -- <name>');
        return 2;
      }
      const folder = await createMigration(arg);
      console.log(
        folder
          ? `Wrote prisma/migrations/${folder}/migration.sql. Review it (add CHECK constraints the schema cannot express), then run npm run db:migrate.`
          : 'schema.prisma and the migrations agree: nothing to write.',
      );
      return 0;
    }
    case 'check': {
      const sql = await diffMigrationsToSchema();
      if (!sql.trim()) {
        console.log('schema.prisma and prisma/migrations agree.');
        return 0;
      }
      console.error(
        'prisma/schema.prisma has changes no migration applies. Run `npm run db:migration:create -- <name>`. Missing SQL:\n',
      );
      console.error(sql);
      return 1;
    }
    default:
      console.error('usage: tsx scripts/db.ts migrate | create <name> | check');
      return 2;
  }
}

process.exitCode = await main();
