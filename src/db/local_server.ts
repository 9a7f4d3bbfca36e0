/**
 * A throwaway PostgreSQL server on a unix socket, from Debian's server binaries
 * (/usr/lib/postgresql/<version>/bin; `bash scripts/setup.sh` installs the `postgresql` package).
 * The tests start one per run; `scripts/pg_local.ts` starts one for `npm run db:load`.
 *
 * initdb refuses to run as root, so as root every server command runs as the `postgres` OS user
 * (runuser), in a directory that user owns. No TCP port is opened (listen_addresses is empty):
 * the socket lives in the server's own directory, so servers never collide.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const DEBIAN_ROOT = '/usr/lib/postgresql';
/** The port only names the socket file (.s.PGSQL.<port>) in the server's directory. */
export const LOCAL_PORT = 5432;
const SERVER_USER = 'postgres';

/** The directory with initdb and pg_ctl: $PG_BIN, else the newest Debian version installed. */
export function findPostgresBin(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PG_BIN) {
    if (!fs.existsSync(path.join(env.PG_BIN, 'initdb'))) throw new Error(`PG_BIN=${env.PG_BIN} has no initdb`);
    return env.PG_BIN;
  }
  const versions = fs.existsSync(DEBIAN_ROOT)
    ? fs.readdirSync(DEBIAN_ROOT).filter((v) => fs.existsSync(path.join(DEBIAN_ROOT, v, 'bin', 'initdb')))
    : [];
  if (versions.length === 0) {
    throw new Error(
      `PostgreSQL server binaries not found under ${DEBIAN_ROOT}/<version>/bin: run bash scripts/setup.sh ` +
        '(installs the Debian package postgresql), or set PG_BIN to a directory with initdb and pg_ctl',
    );
  }
  versions.sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
  return path.join(DEBIAN_ROOT, versions[0], 'bin');
}

/** Run a server binary, as the postgres OS user when we are root. */
function runServerCommand(bin: string, command: string, args: string[]): string {
  const file = path.join(bin, command);
  const asRoot = process.getuid?.() === 0;
  try {
    return asRoot
      ? execFileSync('runuser', ['-u', SERVER_USER, '--', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      : execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed${asRoot ? ` (as OS user ${SERVER_USER})` : ''}: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

export interface LocalPostgres {
  /** Server directory: data/, the socket and server.log. */
  dir: string;
  /** Connection URL for `database` (default "postgres"), through the socket. */
  url(database?: string): string;
  /** Create a database (idempotent); returns its URL. */
  createDatabase(name: string): string;
  /** Stop the server and remove its directory (idempotent). */
  stop(): void;
}

/** The URL of a database on the server in `dir`. */
export function localUrl(dir: string, database = 'postgres'): string {
  return `postgres://${SERVER_USER}@/${database}?host=${encodeURIComponent(dir)}`;
}

/**
 * Start a server in `dir` (created; default: a new temporary directory). With `removeOnStop`
 * (the default for a temporary directory) stop() deletes the directory.
 */
export function startLocalPostgres(options: { dir?: string; removeOnStop?: boolean } = {}): LocalPostgres {
  const bin = findPostgresBin();
  const dir = options.dir ? path.resolve(options.dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'marketplace-pg-'));
  const removeOnStop = options.removeOnStop ?? !options.dir;
  fs.mkdirSync(dir, { recursive: true });
  if (process.getuid?.() === 0) {
    let uid: number;
    let gid: number;
    try {
      uid = Number(execFileSync('id', ['-u', SERVER_USER], { encoding: 'utf8' }).trim());
      gid = Number(execFileSync('id', ['-g', SERVER_USER], { encoding: 'utf8' }).trim());
    } catch {
      throw new Error(`running as root, but there is no OS user "${SERVER_USER}" to run PostgreSQL as (initdb refuses root): install the Debian package postgresql`);
    }
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (fs.existsSync(path.join(data, 'postmaster.pid'))) {
      try {
        runServerCommand(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already gone: nothing to stop.
      }
    }
    if (removeOnStop) fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (!fs.existsSync(path.join(data, 'PG_VERSION'))) {
      runServerCommand(bin, 'initdb', ['-D', data, '-A', 'trust', '-U', SERVER_USER, '-E', 'UTF8', '--locale=C.UTF-8']);
    }
    runServerCommand(bin, 'pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', '-o', `-k ${dir} -p ${LOCAL_PORT} -c listen_addresses=`, 'start']);
  } catch (err) {
    stop();
    throw err;
  }
  return {
    dir,
    url: (database = 'postgres') => localUrl(dir, database),
    createDatabase(name: string) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${JSON.stringify(name)}: use lower-case letters, digits and _`);
      const exists = runServerCommand(bin, 'psql', ['-h', dir, '-p', String(LOCAL_PORT), '-U', SERVER_USER, '-d', 'postgres', '-tAc', `SELECT 1 FROM pg_database WHERE datname = '${name}'`]);
      if (exists.trim() !== '1') runServerCommand(bin, 'createdb', ['-h', dir, '-p', String(LOCAL_PORT), '-U', SERVER_USER, name]);
      return localUrl(dir, name);
    },
    stop,
  };
}

/** Stop a server started in `dir` by an earlier process (scripts/pg_local.ts stop); keeps the directory. */
export function stopLocalPostgres(dir: string): boolean {
  const data = path.join(path.resolve(dir), 'data');
  if (!fs.existsSync(path.join(data, 'postmaster.pid'))) return false;
  runServerCommand(findPostgresBin(), 'pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
  return true;
}
