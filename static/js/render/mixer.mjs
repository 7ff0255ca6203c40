/* The sound of a render, mixed in the page a segment at a time (for static/js/bridge/render.mjs,
 * its only caller): the narration at its scene's start, and each clip's own sound from its
 * scene's start, its gain following the plan's envelope (ducked under narration).
 *
 * Web Audio's OfflineAudioContext does the mixing (Workers have none, so it runs here, and it
 * renders off the main thread). One context for the whole video would hold the whole mix, and
 * every decoded source, at once: 60 s of 48 kHz stereo is 23 MB, twice over. Instead each
 * SEGMENT_S of sound is its own small context, holding only the sources that sound in it (a
 * source that continues into the next segment is played on from where it stopped, a gain
 * envelope from its value at the segment's start). A source is decoded when it is first heard
 * and dropped once it has ended, so memory follows the longest source, not the video's length.
 * `check()` decodes each source once, in turn, before any segment: a file that cannot be
 * decoded is refused before the encoding starts.
 *
 *   const sound = mixer(spec, probed);       // null when the video has no sound
 *   await sound.check();                     // EncodingError naming the scene, or fine
 *   let part;
 *   while ((part = await sound.next())) feed(part);   // [left, right] Float32Arrays
 */

export const SEGMENT_S = 4;  // whole seconds, so the encoder's one-second samples stay aligned

const failure = (name, message) => new DOMException(message, name);
const reason = (e) => String((e && e.message) || e);

/** The mixer of `spec` (see render.mjs `start`: sampleRate, audioSeconds, narration, clipSounds,
 * clips) given the worker's clip probes (`probed[scene].hasAudio`), or null when nothing sounds.
 * `segmentSeconds` is for tests (a mix cut finer must sound the same). */
export function mixer(spec, probed, segmentSeconds = SEGMENT_S) {
  const sources = [
    ...spec.narration.map(([blob, start, scene]) => ({ blob, start, end: null, envelope: null,
                                                       what: `scene ${scene}'s narration` })),
    ...spec.clipSounds.filter(([scene]) => probed[scene] && probed[scene].hasAudio)
      .map(([scene, start, end, envelope]) => ({ blob: spec.clips[scene], start, end, envelope,
                                                 what: `the sound of scene ${scene + 1}'s clip` })),
  ];
  if (!sources.length) return null;
  const rate = spec.sampleRate;
  const total = Math.max(1, Math.round(spec.audioSeconds * rate));
  const step = Math.max(1, Math.round(segmentSeconds * rate));
  const decoder = new OfflineAudioContext(2, 1, rate);  // decodes at the mix's rate; never rendered
  const decoded = new Map();  // source -> Promise<AudioBuffer>, while it is still heard
  let at = 0;

  const decode = async (source) => {
    try { return await decoder.decodeAudioData(await source.blob.arrayBuffer()); }
    catch (e) { throw failure("EncodingError", `${source.what} cannot be decoded (${reason(e)})`); }
  };
  const buffer = (source) => {
    if (!decoded.has(source)) decoded.set(source, decode(source));
    return decoded.get(source);
  };

  let checked = null;
  const check = () => (checked = checked || (async () => {
    for (const source of sources) {  // one at a time: each buffer is dropped before the next
      const { duration } = await decode(source);
      if (source.end === null) source.end = source.start + duration;
    }
  })());

  async function segment() {
    await check();
    const t0 = at / rate, length = Math.min(step, total - at), t1 = (at + length) / rate;
    const context = new OfflineAudioContext(2, length, rate);
    for (const source of sources) {
      if (source.start >= t1 || source.end <= t0) continue;
      const node = context.createBufferSource();
      node.buffer = await buffer(source);
      const when = Math.max(0, source.start - t0), offset = Math.max(0, t0 - source.start);
      if (source.envelope) {
        const gain = context.createGain();
        automate(gain.gain, source, t0);
        node.connect(gain).connect(context.destination);
        node.start(when, offset, Math.max(0, source.end - Math.max(source.start, t0)));
      } else {
        node.connect(context.destination);
        node.start(when, offset);
      }
    }
    for (const source of sources) if (source.end <= t1) decoded.delete(source);  // heard out
    const mixed = await context.startRendering();
    at += length;
    return [mixed.getChannelData(0).slice(), mixed.getChannelData(1).slice()];
  }

  return {
    sampleRate: rate,
    samples: total,
    /** Decode every source once, one at a time: each narration's length, and an EncodingError
     * naming the scene before anything is encoded (the first `next` does it too). */
    check,
    /** The next segment's [left, right] samples, or null after the last. */
    next: () => (at < total ? segment() : Promise.resolve(null)),
  };
}

// The source's gain envelope ([[ms from its start, level], ...], ramped linearly between points)
// as seen from a segment starting at `t0` s: its value where the segment first hears it, then the
// ramps still to come, in the segment's own time.
function automate(param, source, t0) {
  const points = source.envelope.map(([ms, level], i) => [source.start + (i ? ms / 1000 : 0), level]);
  const from = Math.max(source.start, t0);
  let value = points[0][1];
  for (let i = 1; i < points.length; i++) {
    const [ta, va] = points[i - 1], [tb, vb] = points[i];
    if (tb <= from) { value = vb; continue; }
    if (ta < from) value = va + (vb - va) * (from - ta) / (tb - ta);
    break;
  }
  param.setValueAtTime(value, from - t0);
  for (const [t, level] of points.slice(1)) if (t > from) param.linearRampToValueAtTime(level, t - t0);
}
