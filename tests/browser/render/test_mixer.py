"""The render's sound is mixed a few seconds at a time (static/js/render/mixer.mjs), so memory
does not grow with the video's length. Cut finer, it must sound the same: narration that runs
across segment edges, and a clip's sound whose ducking envelope ramps across them, give the
same samples as one segment for the whole video; a source that cannot be decoded is refused by
`check()`, naming its scene, before any segment is mixed."""

MIX_JS = """async ([segments]) => {
  const { mixer } = await import("/static/js/render/mixer.mjs");
  const rate = 48000;
  const tone = (seconds, hz, level) => {       // a mono 16-bit WAV
    const n = Math.round(seconds * rate), bytes = new DataView(new ArrayBuffer(44 + 2 * n));
    const text = (at, s) => [...s].forEach((ch, i) => bytes.setUint8(at + i, ch.charCodeAt(0)));
    text(0, "RIFF"); bytes.setUint32(4, 36 + 2 * n, true); text(8, "WAVEfmt ");
    bytes.setUint32(16, 16, true); bytes.setUint16(20, 1, true); bytes.setUint16(22, 1, true);
    bytes.setUint32(24, rate, true); bytes.setUint32(28, 2 * rate, true);
    bytes.setUint16(32, 2, true); bytes.setUint16(34, 16, true); text(36, "data");
    bytes.setUint32(40, 2 * n, true);
    for (let i = 0; i < n; i++) bytes.setInt16(44 + 2 * i, Math.round(level * 32767 * Math.sin(2 * Math.PI * hz * i / rate)), true);
    return new Blob([bytes], { type: "audio/wav" });
  };
  const spec = {
    sampleRate: rate, audioSeconds: 9.25,
    clips: [tone(6.5, 440, 0.5), null],
    narration: [[tone(5, 1000, 0.3), 0.25, 1], [tone(2.5, 700, 0.3), 6.75, 2]],
    clipSounds: [[0, 0, 6.5, [[0, 0.15], [5250, 0.15], [5750, 0.5], [6500, 0.5]]]],
  };
  const probed = [{ hasAudio: true }, null];
  const whole = async (seconds) => {
    const sound = mixer(spec, probed, seconds);
    await sound.check();
    const left = new Float32Array(sound.samples), right = new Float32Array(sound.samples);
    let part, count = 0, at = 0;
    while ((part = await sound.next())) {
      left.set(part[0], at); right.set(part[1], at); at += part[0].length; count++;
    }
    return { left, right, count, samples: at };
  };
  const one = await whole(100), cut = await whole(segments);
  let diff = 0, loudest = 0;
  for (let i = 0; i < one.left.length; i++) {
    diff = Math.max(diff, Math.abs(one.left[i] - cut.left[i]), Math.abs(one.right[i] - cut.right[i]));
    loudest = Math.max(loudest, Math.abs(one.left[i]));
  }
  const bad = { ...spec, narration: [[new Blob([new Uint8Array(512).fill(7)], { type: "audio/wav" }), 1, 2]] };
  let refused = null;
  try { await mixer(bad, probed, 1).check(); } catch (e) { refused = `${e.name}: ${e.message}`; }
  return { diff, loudest, lengths: [one.samples, cut.samples, one.left.length],
           counts: [one.count, cut.count], refused };
}"""


def test_a_mix_cut_into_segments_sounds_the_same_as_one_piece(vault_page):
    found = vault_page.evaluate(MIX_JS, [1])
    assert found["lengths"] == [444_000, 444_000, 444_000]  # 9.25 s at 48 kHz, both ways
    assert found["counts"] == [1, 10]
    assert found["loudest"] > 0.3, found  # narration over the clip's sound, not silence
    assert found["diff"] < 1e-4, found
    assert found["refused"].startswith("EncodingError: scene 2's narration cannot be decoded")
