/**
 * Publisher arbitration: who publishes a stream when a second publisher arrives. A pure function
 * of the facts (no sockets, no addon, no clock); the relay performs the action it returns.
 *
 * - `accept`: the stream has no other publisher (or it is the same session).
 * - `refuse`: the newcomer is closed: a better source (lower index) is live and not quiet, or the
 *   stream's `onPublisherConflict` is `refuse` (1409 policy) and the publisher sends media.
 * - `replace`: the old publisher is closed for the newcomer (`onPublisherConflict: replace`, a
 *   relay-internal source that does not enforce the conflict policy, or a better source).
 * - `takeover`: as replace, but the old publisher had sent no media for `takeoverAfterMs`.
 * - `failover`: a worse source (higher index) goes live while the current source is quiet.
 */

export type ArbiterAction = 'accept' | 'refuse' | 'replace' | 'takeover' | 'failover';

export interface ArbiterInput {
  /** The stream's current publisher, if any. */
  current?: { session: number; sourceIndex: number } | undefined;
  /** The connection that wants to publish. */
  candidate: { session: number; sourceIndex: number };
  /** The stream's `onPublisherConflict`. */
  policy: 'refuse' | 'replace';
  /** False for the relay's own sources (pulls, files): the conflict policy does not apply. */
  enforceConflict: boolean;
  /** The current publisher sent no media for takeoverAfterMs (it may be taken over under refuse). */
  currentStalled: boolean;
  /** The stream's sources see the current publisher's source as quiet (StreamSources.isQuiet). */
  currentSourceQuiet: boolean;
}

export interface ArbiterDecision {
  action: ArbiterAction;
  /** Why, in words for logs and tests. */
  reason: string;
  /** The log line the relay writes, and its level (undefined for a plain accept). */
  log?: { level: 'info' | 'warn'; msg: string };
  /** For replace, takeover and failover: the reason the old publisher's session is closed with. */
  closeOld?: string;
}

export function decidePublisher(input: ArbiterInput): ArbiterDecision {
  const { current, candidate } = input;
  if (current === undefined || current.session === candidate.session) {
    return { action: 'accept', reason: current === undefined ? 'the stream has no publisher' : 'already the publisher' };
  }
  const index = candidate.sourceIndex;
  if (index > current.sourceIndex) {
    if (!input.currentSourceQuiet) {
      return {
        action: 'refuse',
        reason: 'a better source is live',
        log: { level: 'info', msg: 'a better source is live; closing the backup' },
      };
    }
    return {
      action: 'failover',
      reason: 'the better source is quiet',
      log: { level: 'warn', msg: 'failover: the better source sent no media for takeoverAfterMs; the backup takes over' },
      closeOld: 'failed over: it had sent no media for takeoverAfterMs',
    };
  }
  const better = index < current.sourceIndex;
  if (input.currentStalled) {
    return {
      action: 'takeover',
      reason: 'the publisher had gone quiet',
      log: { level: 'info', msg: 'new publisher takes over from a publisher that had gone quiet' },
      closeOld: 'taken over: it had sent no media for takeoverAfterMs',
    };
  }
  if (!better && input.policy !== 'replace' && input.enforceConflict) {
    return {
      action: 'refuse',
      reason: 'the stream already has a publisher (onPublisherConflict: refuse)',
      log: { level: 'warn', msg: 'stream already has a publisher (1409 policy); closing the newcomer' },
    };
  }
  return {
    action: 'replace',
    reason: better ? 'a better source' : input.policy === 'replace' ? 'onPublisherConflict: replace' : 'a relay source',
    log: { level: 'info', msg: 'new publisher replaces the old one' },
    closeOld: 'replaced by a new publisher',
  };
}
