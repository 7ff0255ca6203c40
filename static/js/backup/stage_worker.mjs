/* A staging worker (module Worker) for static/js/bridge/zipread.mjs: it receives one region of an
 * archive (its buffer transferred, not copied) and its jobs, runs `stageRegion` on them
 * (static/js/backup/stage.mjs) and posts the staged entries back, their head and metadata
 * bytes transferred. The hashing and the copying of the bytes into Blobs thus leave the page's
 * main thread, and two workers stage two regions at once.
 *
 *   worker.postMessage({ id, region, jobs, headBytes, maxChunks }, [region.buffer]);
 *   // -> { id, staged: [{sha256, head, blob, meta}] }  or  { id, error: {name, message} }
 */

import { stageRegion } from "./stage.mjs";

self.onmessage = async ({ data: { id, region, jobs, headBytes, maxChunks } }) => {
  try {
    const staged = await stageRegion(region, jobs, headBytes, maxChunks);
    const moved = [];  // each head and meta is a copy with a buffer of its own
    for (const entry of staged) {
      moved.push(entry.head.buffer);
      if (entry.meta) moved.push(entry.meta.buffer);
    }
    self.postMessage({ id, staged }, moved);
  } catch (error) {
    self.postMessage({ id, error: { name: (error && error.name) || "Error",
                                    message: String((error && error.message) || error) } });
  }
};
