/**
 * The first cell of every notebook: one header saying what runs where (notebook, profile,
 * TensorFlow.js backend, machine), so an executed notebook documents its own run.
 */
import * as os from 'os';
import { PROFILE } from './config';
import { showMarkdown } from './display';
import { recordMetrics } from './metrics_store';
import { describeRuntime, initTf, RuntimeInfo } from './tf/runtime';

export async function startNotebook(id: string, title: string): Promise<RuntimeInfo> {
  const runtime = await initTf();
  const cpus = os.cpus();
  showMarkdown(
    [
      `**${id} · ${title}** — profile **${PROFILE.name}**` + (PROFILE.name === 'smoke' ? ' (small stratified subset, few epochs: numbers are not results)' : ''),
      `${describeRuntime()}`,
      `${new Date().toISOString().slice(0, 19).replace('T', ' ')} UTC · ${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'} · ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    ].join('  \n'),
  );
  recordMetrics('run', { backend: runtime.backend });
  return runtime;
}
