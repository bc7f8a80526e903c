import mpegts from 'mpegts.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { authHeaders } from './api.js';
import { html, tracksOf } from './util.js';

/** MSE types for the codecs mpegts.js can remux to fMP4. */
const PROBE = {
  h264: 'video/mp4; codecs="avc1.42E01E"',
  hevc: 'video/mp4; codecs="hvc1.1.6.L93.B0"',
};

/** Why this browser cannot play `media`, or undefined when it can try. */
export function cannotPlay(media) {
  if (!mpegts.isSupported() || !mpegts.getFeatureList().mseLivePlayback) return 'this browser has no Media Source Extensions: the preview cannot play here';
  const { video } = tracksOf(media);
  if (!video) return 'the stream has no video track the relay recognised, so there is no picture to show';
  const probe = PROBE[video.codec];
  if (probe === undefined) return `the stream's video is ${video.codec}; the browser preview plays H.264 and HEVC only (the stream itself is relayed untouched)`;
  if (!MediaSource.isTypeSupported(probe)) return `this browser cannot decode ${video.codec === 'hevc' ? 'HEVC (H.265)' : 'H.264'} video; the stream is fine, open it in a player such as ffplay or VLC`;
  return undefined;
}

/**
 * The live preview: GET /api/v1/streams/NAME/ts (chunked MPEG-TS, a viewer session of the
 * stream) played by mpegts.js into a muted <video>. Shows how far behind the live edge it plays.
 */
export function Preview({ name, media, live }) {
  const video = useRef(null);
  const [status, setStatus] = useState('starting');
  const [message, setMessage] = useState('');
  const [latency, setLatency] = useState(null);
  const [on, setOn] = useState(true);
  const reason = media ? cannotPlay(media) : undefined;
  const canStart = live && on && media && reason === undefined;

  useEffect(() => {
    if (!canStart) return undefined;
    const el = video.current;
    const player = mpegts.createPlayer(
      { type: 'mpegts', isLive: true, url: `/api/v1/streams/${encodeURIComponent(name)}/ts` },
      {
        enableWorker: false,
        enableStashBuffer: false,
        liveBufferLatencyChasing: true,
        liveBufferLatencyMaxLatency: 1.5,
        liveBufferLatencyMinRemain: 0.3,
        headers: authHeaders(),
      },
    );
    setStatus('connecting');
    setMessage('');
    player.on(mpegts.Events.ERROR, (type, detail, info) => {
      setStatus('error');
      const code = info?.code ? ` (HTTP ${info.code})` : '';
      setMessage(type === mpegts.ErrorTypes.MEDIA_ERROR ? `the browser could not decode this stream: ${detail}` : `the preview stopped: ${detail}${code}`);
    });
    player.attachMediaElement(el);
    player.load();
    const onPlaying = () => setStatus('playing');
    el.addEventListener('playing', onPlaying);
    void Promise.resolve(player.play()).catch(() => setStatus('paused (press play)'));
    const timer = setInterval(() => {
      const b = el.buffered;
      if (b.length > 0) setLatency(Math.max(0, b.end(b.length - 1) - el.currentTime));
    }, 1000);
    return () => {
      clearInterval(timer);
      el.removeEventListener('playing', onPlaying);
      player.pause();
      player.unload();
      player.detachMediaElement();
      player.destroy();
      setLatency(null);
    };
  }, [name, canStart]);

  let note;
  if (!live) note = 'The stream has no publisher: the preview starts when it is live.';
  else if (!media) note = 'Waiting for the relay to read the stream’s tracks…';
  else if (reason !== undefined) note = `Cannot preview: ${reason}.`;
  else if (!on) note = 'Preview stopped.';
  else if (status === 'error') note = message;

  return html`<section class="preview" aria-labelledby="preview-h">
    <h2 id="preview-h">Live preview</h2>
    <div class="video-wrap">
      ${canStart ? html`<video ref=${video} id="preview-video" muted autoplay playsinline controls aria-label=${`live preview of ${name}`}></video>` : null}
      ${note ? html`<p class="video-note" role="status" id="preview-note">${note}</p>` : null}
    </div>
    <p class="preview-meta">
      <button type="button" onClick=${() => setOn(!on)} disabled=${!live || reason !== undefined}>${on ? 'Stop preview' : 'Start preview'}</button>
      ${' '}<span role="status">${canStart ? status : ''}${latency !== null && canStart ? ` · ${latency.toFixed(2)} s behind the live edge` : ''}</span>
    </p>
    <p class="hint">Outside the page: <code>curl -H 'Authorization: Bearer …' ${location.origin}/api/v1/streams/${encodeURIComponent(name)}/ts | ffplay -</code></p>
  </section>`;
}
