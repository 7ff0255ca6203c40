"""SceneVault's one exception tree. Every error the app raises on purpose is one of these.

    SceneVaultError
    ├── StartupError          the app could not start (shown by the boot screen)
    ├── VaultError            IndexedDB storage failed
    │   ├── QuotaExceeded     the browser refused the write for lack of space
    │   ├── MissingBlob       a record exists but its bytes do not
    │   ├── IntegrityError    bytes do not match their recorded SHA-256
    │   ├── InvalidAsset      bad input to the vault (kind, slot, media, project): nothing written
    │   ├── NotFound          no project or asset has that id
    │   ├── DatabaseBlocked   another tab holds the database open at another version
    │   └── JobAlreadyStored  another tab stored a job's result first: nothing stored twice
    ├── BackupError           a backup cannot be written or restored (`code` names the rule)
    │   ├── BackupCancelled   the user cancelled an export or import; nothing was changed
    │   └── ShareLinkError    a share link cannot be made or opened (too long, damaged, newer)
    ├── PngError              bytes are not a well-formed PNG (bad signature, chunk or CRC)
    ├── MetadataError         a file's embedded metadata breaks a rule or cap (file kept bare)
    ├── RecipeError           generation parameters are invalid (names the field)
    ├── RenderError           the final video cannot be rendered (inputs missing, no encoder)
    │   └── RenderCancelled   the user cancelled a render; nothing was stored
    └── ProviderError         the generation proxy or its provider failed
        ├── ProviderTimeout   the provider did not answer in time
        ├── ProviderBusy      too many generations are running at once
        └── JobLost           the server no longer knows a job (it restarted or expired it)

Example:

    >>> from app.core.errors import MissingBlob, VaultError
    >>> issubclass(MissingBlob, VaultError)
    True
"""

__all__ = [
    "SceneVaultError", "StartupError", "VaultError", "QuotaExceeded", "MissingBlob",
    "IntegrityError", "InvalidAsset", "NotFound", "DatabaseBlocked", "BackupError",
    "BackupCancelled", "ShareLinkError", "RecipeError", "RenderError", "RenderCancelled", "ProviderError",
    "PngError", "MetadataError", "ProviderTimeout", "ProviderBusy", "JobLost", "JobAlreadyStored",
]


class SceneVaultError(Exception):
    """Base of every error SceneVault raises on purpose."""


class StartupError(SceneVaultError):
    """The app could not start; the message tells the user what to do."""


class VaultError(SceneVaultError):
    """IndexedDB storage failed."""


class QuotaExceeded(VaultError):
    """The browser refused a write for lack of space; nothing of that write remains."""


class MissingBlob(VaultError):
    """A record exists without its bytes (recipe-only import, or evicted)."""


class IntegrityError(VaultError):
    """Stored bytes do not match their recorded SHA-256."""


class InvalidAsset(VaultError):
    """Bad input to the vault; the message names the offending value. Nothing was written."""


class NotFound(VaultError):
    """No project or asset has that id."""


class DatabaseBlocked(VaultError):
    """Another tab keeps the database open at another schema version; close it or reload."""


class JobAlreadyStored(VaultError):
    """Another tab stored this job's result first; nothing was stored twice."""


class BackupError(SceneVaultError):
    """A backup cannot be written or restored; nothing was changed.

    `code` names the rule that refused it (`not_a_zip`, `unsafe_path`, `hash_mismatch`, ...;
    README "Backups" lists them), so the UI and tests need not parse the message.
    """

    def __init__(self, message: str, code: str = "backup_failed"):
        super().__init__(message)
        self.code = code


class BackupCancelled(BackupError):
    """The user cancelled an export or import; nothing was written or downloaded."""

    def __init__(self, message: str = "Cancelled: nothing was changed.", code: str = "cancelled"):
        super().__init__(message, code)


class ShareLinkError(BackupError):
    """A share link (app/core/sharelink.py) cannot be made or opened; nothing was imported.

    `code`: `link_too_long`, `link_corrupted`, `link_newer`, `link_too_large`,
    `wrong_passphrase`, or `not_shareable` (the manifest inside is not one recipe-only project).
    """

    def __init__(self, message: str, code: str = "link_corrupted"):
        super().__init__(message, code)


class PngError(SceneVaultError):
    """Bytes are not a well-formed PNG: bad signature, truncated chunk or CRC mismatch."""


class MetadataError(SceneVaultError):
    """A file's embedded metadata (PNG text, EXIF, XMP, a ComfyUI graph) breaks a rule or a cap.
    The file itself may still be stored, without the recipe; the message says what was wrong."""


class RecipeError(SceneVaultError):
    """Generation parameters are invalid; the message names the field.

    `field` is the offending field's name and `code` the API error code (`invalid_<field>`,
    or `unknown_field` for a field no recipe has).
    """

    def __init__(self, message: str, field: str = "recipe", code: str | None = None):
        super().__init__(message)
        self.field = field
        self.code = code or f"invalid_{field}"


class RenderError(SceneVaultError):
    """The final video cannot be rendered: an input is missing, or the browser cannot encode."""


class RenderCancelled(RenderError):
    """The user cancelled a render; nothing was stored."""

    def __init__(self, message: str = "Render cancelled: nothing was stored."):
        super().__init__(message)


class ProviderError(SceneVaultError):
    """The generation proxy or its provider failed."""


class ProviderTimeout(ProviderError):
    """The provider did not answer within the configured time."""


class ProviderBusy(ProviderError):
    """Too many generations are running at once; try again shortly."""


class JobLost(ProviderError):
    """The server no longer knows a job (it restarted, or the result expired after an hour);
    the job's recipe is kept, so it can be generated again."""
