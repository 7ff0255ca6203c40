/* The live backup folder's file system calls, for app/backup/folder.py (its only caller; loaded
 * as `sv_folder` by pyscript.toml): pick a folder, ask for permission, list it, and write, read,
 * trash and remove files by their "a/b/c.png" path under a FileSystemDirectoryHandle (one the
 * user picked, or an Origin Private File System folder: the same interface).
 *
 * A write goes to `<name>.partial` (createWritable, write, close), then `move()`s onto `<name>`;
 * where FileSystemFileHandle.move is missing it writes `<name>` directly, which createWritable
 * only replaces on close(). On any error the stream is aborted and the partial removed, so no
 * file is ever half-written under its final name. Errors keep their DOMException name.
 */

const PARTIAL = ".partial";

export function supported() {
  return typeof globalThis.showDirectoryPicker === "function";
}

export async function pick() {
  return globalThis.showDirectoryPicker({ id: "scenevault-backup", mode: "readwrite" });
}

/** "granted", "prompt" or "denied"; `ask` calls requestPermission (needs a user gesture). */
export async function permission(handle, ask) {
  const options = { mode: "readwrite" };
  if (typeof handle.queryPermission !== "function") return "granted";
  const state = await handle.queryPermission(options);
  if (state === "granted" || !ask) return state;
  return handle.requestPermission(options);
}

async function folderOf(root, parts, create) {
  let folder = root;
  for (const part of parts) folder = await folder.getDirectoryHandle(part, { create });
  return folder;
}

function split(path) {
  const parts = path.split("/");
  return [parts.slice(0, -1), parts[parts.length - 1]];
}

/** Every file under `root`: [{path, size, lastModified}], skipping the folders in `skip`. */
export async function list(root, skip) {
  const found = [];
  const walk = async (folder, prefix) => {
    for await (const [name, entry] of folder.entries()) {
      const path = prefix + name;
      if (entry.kind === "directory") {
        if (!skip.includes(path)) await walk(entry, path + "/");
      } else {
        const file = await entry.getFile();
        found.push({ path, size: file.size, lastModified: file.lastModified });
      }
    }
  };
  await walk(root, "");
  return found;
}

/** The file at `path`; with `copy`, a Blob of its bytes copied (streamed) into the browser's
 * own blob storage. Chromium may keep a File that IndexedDB stores as a reference to the file
 * on disk, which breaks once the file is edited or removed, so what a restore stores is a copy. */
export async function read(root, path, copy) {
  const [folders, name] = split(path);
  const folder = await folderOf(root, folders, false);
  const file = await (await folder.getFileHandle(name)).getFile();
  return copy ? new Response(file.stream()).blob() : file;
}

/** Write `data` (a Blob or bytes) to `path`; resolves to {size, lastModified} of the result. */
export async function write(root, path, data) {
  const [folders, name] = split(path);
  const folder = await folderOf(root, folders, true);
  const probe = await folder.getFileHandle(name + PARTIAL, { create: true });
  const atomic = typeof probe.move === "function";
  const target = atomic ? probe : await folder.getFileHandle(name, { create: true });
  if (!atomic) await folder.removeEntry(name + PARTIAL);
  let stream = null;
  try {
    stream = await target.createWritable({ keepExistingData: false });
    await stream.write(data);
    await stream.close();
    stream = null;
    if (atomic) await probe.move(name);
  } catch (error) {
    if (stream) await stream.abort().catch(() => {});
    if (atomic) await removeSoon(folder, name + PARTIAL);
    throw error;
  }
  const file = await (await folder.getFileHandle(name)).getFile();
  return { size: file.size, lastModified: file.lastModified };
}

/** Remove a partial file; the aborted stream's lock may outlive abort() for a moment, so try a
 * few times (a partial that stays is removed by the next run: it never carries a final name). */
async function removeSoon(folder, name) {
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await folder.removeEntry(name);
      return;
    } catch (error) {
      if (error.name === "NotFoundError") return;
      await new Promise((resolve) => setTimeout(resolve, 40 * attempt));
    }
  }
}

export async function remove(root, path) {
  const [folders, name] = split(path);
  const folder = await folderOf(root, folders, false);
  await folder.removeEntry(name);
}

/** Move `path` to `<trash>/<path>` (replacing an older one there). */
export async function trash(root, path, trashName) {
  const [folders, name] = split(path);
  const from = await folderOf(root, folders, false);
  const handle = await from.getFileHandle(name);
  const into = await folderOf(root, [trashName, ...folders], true);
  if (typeof handle.move === "function") {
    await into.removeEntry(name).catch(() => {});
    await handle.move(into, name);
  } else {
    await write(root, [trashName, ...folders, name].join("/"), await handle.getFile());
    await from.removeEntry(name);
  }
}
