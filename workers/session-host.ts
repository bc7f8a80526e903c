/**
 * Worker entry point (run by piscina): hosts SRT sessions on this thread until the supervisor
 * sends `shutdown`. One long-lived task per worker; piscina replaces a worker that dies.
 */
import type { MessagePort } from 'node:worker_threads';
import { SessionHost } from '../src/sessions/session-host.js';

export interface HostTask {
  port: MessagePort;
  worker: number;
}

export default async function hostSessions(task: HostTask): Promise<number> {
  await new SessionHost(task.port, task.worker).run();
  return task.worker;
}
