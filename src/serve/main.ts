/**
 * `npm run serve [-- --port 8080 --host 127.0.0.1 --max-upload-mb 10 --bundle DIR]`: the search
 * service on the artefacts notebook 07 wrote (outputs/models/<PROFILE>/serving/, profile `full`
 * unless PROFILE=smoke). Environment equivalents: HOST, PORT, MAX_UPLOAD_MB, SERVING_BUNDLE.
 * Listens on 127.0.0.1 unless told otherwise. Prints one line `listening on <url>` when ready.
 */
import { defaultBundleDir, MissingArtefactError } from './bundle';
import { DEFAULT_MAX_UPLOAD_BYTES, startServer } from './server';
import { SearchService } from './service';

interface Settings {
  host: string;
  port: number;
  maxUploadBytes: number;
  bundle: string;
  quiet: boolean;
}

const USAGE = 'usage: npm run serve -- [--host 127.0.0.1] [--port 8080] [--max-upload-mb 10] [--bundle DIR] [--quiet]';

export function parseSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const s: Settings = {
    host: env.HOST || '127.0.0.1',
    port: env.PORT ? Number(env.PORT) : 8080,
    maxUploadBytes: env.MAX_UPLOAD_MB ? Number(env.MAX_UPLOAD_MB) * 2 ** 20 : DEFAULT_MAX_UPLOAD_BYTES,
    bundle: env.SERVING_BUNDLE || defaultBundleDir(),
    quiet: false,
  };
  const args = argv.filter((a) => a !== '--');
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === '--host') s.host = value();
    else if (a === '--port') s.port = Number(value());
    else if (a === '--max-upload-mb') s.maxUploadBytes = Number(value()) * 2 ** 20;
    else if (a === '--bundle') s.bundle = value();
    else if (a === '--quiet') s.quiet = true;
    else if (a === '--help' || a === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) throw new Error(`port must be an integer 0-65535, got ${s.port}`);
  if (!(s.maxUploadBytes > 0)) throw new Error('the upload limit must be a positive number of MB');
  s.maxUploadBytes = Math.round(s.maxUploadBytes);
  return s;
}

async function main(): Promise<number> {
  let settings: Settings;
  try {
    settings = parseSettings(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  let service: SearchService;
  try {
    service = await SearchService.load(settings.bundle);
  } catch (err) {
    console.error(`search service: cannot start: ${(err as Error).message}`);
    if (!(err instanceof MissingArtefactError)) console.error('(if the bundle is out of date: run npm run pipeline first)');
    return 1;
  }
  const log = settings.quiet ? undefined : (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const running = await startServer(service, { host: settings.host, port: settings.port, maxUploadBytes: settings.maxUploadBytes, log });
  console.log(`search service: ${service.manifest.profile} bundle ${settings.bundle}, loaded in ${service.loadSeconds.toFixed(1)} s`);
  console.log(`listening on ${running.url}`);
  const stop = () => {
    running.close().then(() => service.close()).then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return -1; // keep running
}

if (require.main === module) {
  main().then((code) => {
    if (code >= 0) process.exit(code);
  }, (err) => {
    console.error(err);
    process.exit(1);
  });
}
