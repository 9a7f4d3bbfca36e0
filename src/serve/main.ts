/**
 * `npm run serve [-- --port 8080 --host 127.0.0.1 --max-upload-mb 10 --bundle DIR
 * --allowed-hosts a,b --request-budget-s 15 --max-queued-photos 8]`: the search service on the
 * artefacts notebook 07 wrote (outputs/models/<PROFILE>/serving/, profile `full` unless
 * PROFILE=smoke). Environment equivalents: HOST, PORT, MAX_UPLOAD_MB, SERVING_BUNDLE,
 * ALLOWED_HOSTS, REQUEST_BUDGET_S, MAX_QUEUED_PHOTOS. Listens on 127.0.0.1 unless told otherwise;
 * checks that the port is free BEFORE loading the models. Prints `listening on <url>` when ready.
 */
import { defaultBundleDir, MissingArtefactError } from './bundle';
import { checkPortFree, DEFAULT_MAX_QUEUED_PHOTOS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_REQUEST_BUDGET_MS, startServer } from './server';
import * as path from 'path';
import { SearchService } from './service';

interface Settings {
  host: string;
  port: number;
  maxUploadBytes: number;
  bundle: string;
  quiet: boolean;
  allowedHosts: string[];
  requestBudgetMs: number;
  maxQueuedPhotos: number;
}

const USAGE = 'usage: npm run serve -- [--host 127.0.0.1] [--port 8080] [--max-upload-mb 10] [--bundle DIR] ' +
  '[--allowed-hosts name,name] [--request-budget-s 15] [--max-queued-photos 8] [--quiet]';

const hostList = (v: string) => v.split(',').map((h) => h.trim()).filter(Boolean);

export function parseSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const s: Settings = {
    host: env.HOST || '127.0.0.1',
    port: env.PORT ? Number(env.PORT) : 8080,
    maxUploadBytes: env.MAX_UPLOAD_MB ? Number(env.MAX_UPLOAD_MB) * 2 ** 20 : DEFAULT_MAX_UPLOAD_BYTES,
    bundle: env.SERVING_BUNDLE || defaultBundleDir(),
    quiet: false,
    allowedHosts: hostList(env.ALLOWED_HOSTS ?? ''),
    requestBudgetMs: env.REQUEST_BUDGET_S ? Number(env.REQUEST_BUDGET_S) * 1000 : DEFAULT_REQUEST_BUDGET_MS,
    maxQueuedPhotos: env.MAX_QUEUED_PHOTOS ? Number(env.MAX_QUEUED_PHOTOS) : DEFAULT_MAX_QUEUED_PHOTOS,
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
    else if (a === '--allowed-hosts') s.allowedHosts = hostList(value());
    else if (a === '--request-budget-s') s.requestBudgetMs = Number(value()) * 1000;
    else if (a === '--max-queued-photos') s.maxQueuedPhotos = Number(value());
    else if (a === '--help' || a === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (!Number.isInteger(s.port) || s.port < 0 || s.port > 65535) throw new Error(`port must be an integer 0-65535, got ${s.port}`);
  if (!(s.maxUploadBytes > 0)) throw new Error('the upload limit must be a positive number of MB');
  if (!(s.requestBudgetMs >= 1000)) throw new Error('the request budget must be at least 1 s');
  if (!Number.isInteger(s.maxQueuedPhotos) || s.maxQueuedPhotos < 0) throw new Error('--max-queued-photos must be a whole number ≥ 0');
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
  try {
    await checkPortFree(settings.host, settings.port);
  } catch (err) {
    console.error(`search service: cannot start: ${(err as Error).message}`);
    return 1;
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
  let running: Awaited<ReturnType<typeof startServer>>;
  try {
    running = await startServer(service, {
      host: settings.host, port: settings.port, maxUploadBytes: settings.maxUploadBytes, log,
      allowedHosts: settings.allowedHosts, requestBudgetMs: settings.requestBudgetMs, maxQueuedPhotos: settings.maxQueuedPhotos,
    });
  } catch (err) {
    console.error(`search service: cannot start: ${(err as Error).message}`);
    await service.close();
    return 1;
  }
  console.log(`search service: ${service.manifest.profile} bundle ${path.basename(settings.bundle)}, loaded in ${service.loadSeconds.toFixed(1)} s`);
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
