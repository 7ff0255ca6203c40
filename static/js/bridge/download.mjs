/**
 * Saving a Blob to the user's disk (app/ui/parts/download.py): a temporary <a download> whose object
 * URL is revoked after a delay, once the browser has resolved it.
 */

/** Download `blob` as `filename`; the object URL is revoked after `revokeAfterMs`. */
export function save(blob, filename, revokeAfterMs) {
  const url = URL.createObjectURL(blob);
  const a = Object.assign(document.createElement("a"), { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), revokeAfterMs);
  return url;
}

/** The file the user chooses to save `suggestedName` as (a FileSystemFileHandle), or null
 * where the browser has no save picker. Dismissing the picker rejects with an AbortError. */
export async function pickSaveFile(suggestedName) {
  if (typeof window.showSaveFilePicker !== "function") return null;
  return window.showSaveFilePicker({
    suggestedName,
    types: [{ description: "SceneVault backup", accept: { "application/zip": [".zip"] } }],
  });
}
