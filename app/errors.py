"""SceneVault's one exception tree. Every error the app raises on purpose is one of these.

    SceneVaultError
    ├── StartupError          the app could not start (shown by the boot screen)
    ├── VaultError            IndexedDB storage failed
    │   ├── QuotaExceeded     the browser refused the write for lack of space
    │   ├── MissingBlob       a record exists but its bytes do not
    │   └── IntegrityError    bytes do not match their recorded SHA-256
    ├── BackupError           a backup cannot be written or restored
    ├── RecipeError           generation parameters are invalid (names the field)
    └── ProviderError         the generation proxy or its provider failed

Example:

    >>> from app.errors import MissingBlob, VaultError
    >>> issubclass(MissingBlob, VaultError)
    True
"""

__all__ = [
    "SceneVaultError", "StartupError", "VaultError", "QuotaExceeded", "MissingBlob",
    "IntegrityError", "BackupError", "RecipeError", "ProviderError",
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


class BackupError(SceneVaultError):
    """A backup cannot be written or restored."""


class RecipeError(SceneVaultError):
    """Generation parameters are invalid; the message names the field."""


class ProviderError(SceneVaultError):
    """The generation proxy or its provider failed."""
