/**
 * A local PostgreSQL for `npm run db:load`, on a unix socket in a directory of its own
 * (Debian's server binaries; see src/db/local_server.ts):
 *   npx tsx scripts/pg_local.ts start [dir]   # prints the DATABASE_URL of database "marketplace"
 *   npx tsx scripts/pg_local.ts stop [dir]    # stops it; `rm -rf dir` removes it
 * Default dir: /tmp/marketplace-pg.
 */
import { startLocalPostgres, stopLocalPostgres } from '../src/db/local_server';

const DEFAULT_DIR = '/tmp/marketplace-pg';
const [command, dir = DEFAULT_DIR] = process.argv.slice(2);
try {
  if (command === 'start') {
    const server = startLocalPostgres({ dir, removeOnStop: false });
    const url = server.createDatabase('marketplace');
    console.log(`PostgreSQL running in ${server.dir} (socket only, log ${server.dir}/server.log). Use:`);
    console.log(`export DATABASE_URL='${url}'`);
  } else if (command === 'stop') {
    console.log(stopLocalPostgres(dir) ? `stopped the server in ${dir} (remove it with rm -rf ${dir})` : `no server running in ${dir}`);
  } else {
    console.error('usage: npx tsx scripts/pg_local.ts start|stop [dir]');
    process.exit(2);
  }
} catch (err) {
  console.error(`[pg_local] ERROR: ${(err as Error).message}`);
  process.exit(1);
}
