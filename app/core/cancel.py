"""Cancelling a long task (pure): the token a Cancel button and a running export, import or
render share. The task checks it between steps and stops with its own "cancelled" error; nothing
it started is kept.

    token = CancelToken()
    button.onclick = lambda *_: token.cancel()
    await export(vault, [project.id], cancel=token)     # raises BackupCancelled once cancelled
"""

from __future__ import annotations


class CancelToken:
    """Shared between the UI's Cancel button and a running export or import."""

    def __init__(self):
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
