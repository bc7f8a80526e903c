/**
 * `srt-relay` entry: `srt-relay [--config FILE] [flags]` runs a node; `srt-relay url URL` checks
 * an srt:// URL; `srt-relay streamid ID` shows how an id is read; `srt-relay help|--version`.
 */
import { readFileSync } from 'node:fs';
import { parseCliArgs, USAGE } from '../config/cli-args.js';
import { loadConfig } from '../config/load.js';
import { createLogger, defaultLogFormat } from '../logging.js';
import { isSrtRelayError } from '../errors.js';
import { maskText, printable } from '../config/secrets.js';
import { runUrlCommand } from './url-command.js';
import { runStreamIdCommand } from './streamid-command.js';
import { runNode } from './run-node.js';

/** An error for stderr: its code and message, secrets masked. */
function errorLine(e: unknown): string {
  return `${isSrtRelayError(e) ? `error ${e.code}: ` : ''}${maskText((e as Error).message)}`;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** `srt-relay config import|export ... --redis URL`: the cluster's shared configuration in Redis. */
async function runClusterConfig(rest: string[], redisFromFlags: string | undefined, showSecrets: boolean): Promise<number> {
  const args = showSecrets ? [...rest, '--show-secrets'] : [...rest];
  let redisUrl = redisFromFlags;
  const at = args.indexOf('--redis');
  if (at >= 0) {
    redisUrl = args[at + 1];
    args.splice(at, 2);
  }
  const { runConfigCommand } = await import('./config-command.js');
  return runConfigCommand(args, redisUrl, process.stdout, process.stderr);
}

/** `srt-relay bench ...`: the benchmark harness (bench/cli.ts), in a git checkout of srt-relay. */
async function runBench(rest: string[]): Promise<number> {
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const { spawn } = await import('node:child_process');
  // This file is dist/src/cli/main.js; the harness is dist/bench/cli.js.
  const cli = fileURLToPath(new URL('../../bench/cli.js', import.meta.url));
  if (!existsSync(cli)) {
    process.stderr.write('the benchmarks are part of the srt-relay git repository (bench/), not of the npm package; clone it and run `npm ci`\n');
    return 2;
  }
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [cli, ...rest], { stdio: 'inherit' });
    child.on('error', () => resolve(1));
    child.on('exit', (code, signal) => resolve(code ?? (signal !== null ? 1 : 0)));
  });
}

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseCliArgs(argv);
  } catch (e) {
    process.stderr.write(`${errorLine(e)}\n\n${USAGE}\n`);
    return 2;
  }
  switch (args.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case 'url':
      return runUrlCommand(args.rest, process.stdout, process.stderr);
    case 'streamid':
      return runStreamIdCommand(args.rest, process.stdout, process.stderr);
    case 'config':
      if (args.example === true) {
        const { exampleConfig } = await import('../config/example-config.js');
        process.stdout.write(exampleConfig());
        return 0;
      }
      if (args.rest.length > 0) return runClusterConfig(args.rest, args.overrides.redis, args.showSecrets === true);
      break;
    case 'run':
      break;
    case 'bench':
      return runBench(args.rest);
    default:
      process.stderr.write(`the '${args.command}' command is not available in this version\n`);
      return 2;
  }
  let config;
  try {
    config = await loadConfig({ ...(args.configFile !== undefined ? { file: args.configFile } : {}), overrides: args.overrides });
  } catch (e) {
    process.stderr.write(`${errorLine(e)}\n`);
    return 2;
  }
  if (args.command === 'config') {
    // The effective configuration (file + flags + defaults), secrets masked unless --show-secrets.
    process.stdout.write(`${printable(config, args.showSecrets === true)}\n`);
    return 0;
  }
  const log = createLogger(config.logLevel, config.nodeId, undefined, args.logFormat ?? defaultLogFormat());
  return runNode(config, log, {
    ...(args.configFile !== undefined ? { configFile: args.configFile } : {}),
    overrides: args.overrides,
    ...(args.watchConfig === true ? { watchConfig: true } : {}),
  });
}
