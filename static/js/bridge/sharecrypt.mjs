/**
 * Sealing share links with a passphrase, for app/backup/share.py (its only caller; loaded as
 * `sv_sharecrypt` by pyscript.toml). WebCrypto only: the key is PBKDF2-HMAC-SHA-256 of the
 * passphrase (UTF-8) over `salt` for `iterations` rounds, 256 bits, used for AES-GCM with a
 * 128-bit tag. Python (app/core/sharelink.py) chooses the salt, the IV and the iteration
 * count and frames the result; this module only derives, encrypts and decrypts.
 *
 *   const sealed = await seal(plain, "passphrase", salt, iv, 600000);   // ciphertext | tag
 *   const plain = await open(sealed, "passphrase", salt, iv, 600000);   // OperationError if wrong
 */

async function deriveKey(passphrase, salt, iterations) {
  const material = await crypto.subtle.importKey(
    "raw", new TextEncoder().encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations }, material,
    { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

/** AES-GCM encryption of the Uint8Array `plain`; the ciphertext with its 16-byte tag last. */
export async function seal(plain, passphrase, salt, iv, iterations) {
  const key = await deriveKey(passphrase, salt, iterations);
  return new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, tagLength: 128 },
                                                    key, plain));
}

/** The plaintext of `sealed`; rejects with an OperationError when the tag does not verify
 * (a wrong passphrase, or altered data: AES-GCM cannot tell them apart). */
export async function open(sealed, passphrase, salt, iv, iterations) {
  const key = await deriveKey(passphrase, salt, iterations);
  return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv, tagLength: 128 },
                                                    key, sealed));
}
