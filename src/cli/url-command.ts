/**
 * `srt-relay url '<srt-url>'`: parse an srt:// URL with the relay's own parser and print what it
 * means as JSON, or the error the relay would report for it.
 */
import { MASK, isSecretKey, maskText } from '../config/secrets.js';
import { isSrtRelayError } from '../errors.js';
import { formatSrtUrl, parseSrtUrl } from '../srt/url.js';

export const URL_COMMAND_USAGE = `usage: srt-relay url [--show-secrets] '<srt-url>'

Parses an srt:// URL the way srt-relay does and prints it as JSON:
mode, host, port, adapter, localPort and the typed SRT options.

  srt://host:9000                 caller to host:9000
  srt://:9000                     listener on port 9000 (any address)
  srt://[::1]:9000?mode=rendezvous&port=5000
  srt://host:9000?latency=200&streamid=%23!::r=live,m=publish

Quote the URL in the shell ('&' and '#' are special there).
--show-secrets prints the passphrase instead of "***".
Exit status: 0 if the URL is valid, 2 otherwise.
`;

/** Runs the command; returns the exit status (0 valid, 2 invalid URL or bad usage). */
export function runUrlCommand(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  let showSecrets = false;
  const positional: string[] = [];
  for (const arg of args) {
    if (arg === '--help' || arg === '-h') {
      out.write(URL_COMMAND_USAGE);
      return 0;
    }
    if (arg === '--show-secrets') showSecrets = true;
    else if (arg.startsWith('--')) {
      err.write(`error: unknown flag '${arg}'\n\n${URL_COMMAND_USAGE}`);
      return 2;
    } else positional.push(arg);
  }
  const [text] = positional;
  if (text === undefined || positional.length > 1) {
    const problem = text === undefined ? 'missing the URL' : 'give exactly one URL (quote it in the shell)';
    err.write(`error: ${problem}\n\n${URL_COMMAND_USAGE}`);
    return 2;
  }
  try {
    const url = parseSrtUrl(text);
    const options: Record<string, unknown> = { ...url.options };
    for (const [name, value] of Object.entries(options)) {
      if (!showSecrets && isSecretKey(name) && value !== '') options[name] = MASK;
    }
    const report = {
      mode: url.mode,
      host: url.host,
      port: url.port,
      ...(url.adapter !== undefined ? { adapter: url.adapter } : {}),
      ...(url.localPort !== undefined ? { localPort: url.localPort } : {}),
      options,
      url: formatSrtUrl(url, { redactSecrets: !showSecrets }),
    };
    out.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  } catch (e) {
    if (isSrtRelayError(e)) {
      err.write(`error ${e.code}: ${showSecrets ? e.message : maskText(e.message)}\n`);
      return 2;
    }
    throw e;
  }
}
