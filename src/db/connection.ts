/**
 * A PostgreSQL connection from DATABASE_URL (npm `pg`), with errors that say what is wrong:
 * a malformed URL, a server that cannot be reached, a database or user that does not exist.
 * Messages never show the password.
 */
import { Client } from 'pg';
import { DATABASE_URL_ENV } from './tables';

export class DatabaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseError';
  }
}

const SCHEMES = ['postgres:', 'postgresql:'];

/**
 * Check a connection URL and describe it without its password: "postgres://user@host:5432/db",
 * or "postgres://user@/db (socket /tmp/pg)" for a unix socket given as ?host=/dir.
 */
export function describeDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    // pg accepts "postgres://user@/db?host=/dir" (socket, no host); WHATWG URL needs a host there.
    parsed = new URL(url.replace(/^(postgres(?:ql)?:\/\/[^/?#]*@)\//, '$1localhost/'));
  } catch {
    throw new DatabaseError(
      `${DATABASE_URL_ENV} is not a URL (${JSON.stringify(url.replace(/:[^:@/]*@/, ':***@'))}): ` +
        'expected postgres://user[:password]@host[:port]/database or postgres://user@/database?host=/socket/dir',
    );
  }
  if (!SCHEMES.includes(parsed.protocol)) {
    throw new DatabaseError(`${DATABASE_URL_ENV} must start with postgres:// or postgresql://, not ${parsed.protocol}//`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new DatabaseError(`${DATABASE_URL_ENV} names no database: put it after the host, e.g. postgres://user@localhost:5432/marketplace`);
  }
  const socket = parsed.searchParams.get('host');
  const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
  const where = socket ? '' : parsed.host;
  return `postgres://${user}${where}/${database}${socket ? ` (socket ${socket})` : ''}`;
}

/** The URL from the environment, or null when DATABASE_URL is unset or empty. */
export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | null {
  const url = env[DATABASE_URL_ENV]?.trim();
  return url ? url : null;
}

/** Why a connection failed, in words, from pg's / node's error codes. */
function connectionProblem(err: NodeJS.ErrnoException & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
    case 'ENOENT': // unix socket file missing
      return 'nothing is listening there: is the server running? (README: "A local PostgreSQL")';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case 'EACCES':
      return 'permission denied on the socket';
    case '3D000':
      return 'that database does not exist (create it with createdb, or name another one)';
    case '28000':
    case '28P01':
      return 'the server refused the user or password';
    default:
      return err.message;
  }
}

/** Connect, or throw a DatabaseError naming the server (never the password) and the reason. */
export async function connectDatabase(url: string, options: { timeoutMs?: number } = {}): Promise<Client> {
  const described = describeDatabaseUrl(url);
  const client = new Client({ connectionString: url, connectionTimeoutMillis: options.timeoutMs ?? 10_000 });
  // An 'error' event without a listener would crash the process (e.g. the server shuts down).
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    throw new DatabaseError(`cannot connect to PostgreSQL at ${described}: ${connectionProblem(e)}${e.code ? ` [${e.code}]` : ''}`);
  }
  // Dates as ISO text, whatever the server's default: the reader turns dates back into CSV text.
  await client.query("SET datestyle = 'ISO, YMD'");
  return client;
}
