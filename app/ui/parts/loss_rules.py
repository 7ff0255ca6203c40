"""Warnings before loss (pure): which banners to show and their exact words, given the records,
the settings, the browser's answers and the time. app/ui/parts/loss_banner.py draws them;
tests/unit/ui/test_loss_rules.py runs this under CPython.

Two banners, each dismissible for the session (it comes back on the next visit while its
condition holds):
- "persist": storage is not persistent (`navigator.storage.persisted()` is false) and something
  is stored (a project). Fixes: ask the browser, install the app, back up to a folder, export.
- "backup": some project has had a change in no backup for more than `BACKUP_AGE_LIMIT_MS`
  (7 days; app/core/backup_log.py says what counts). Fixes: export, back up to a folder.
Both name the 7-day rule of browsers that have it (Safari deletes what a site stored after 7
days without a visit, unless the app is installed).

    >>> situation = Situation(has_data=True, persisted=False, install="manual", now=now,
    ...                       stale=stale_projects(projects, assets, now, folder_at=None))
    >>> [banner.kind for banner in banners(situation)]
    ['persist', 'backup']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.backup_log import DAY_MS, days_between, unbacked_since

BACKUP_AGE_LIMIT_MS = 7 * DAY_MS
NAMED_PROJECTS = 3  # the backup banner names this many projects, then "and N more"
STORAGE_ROUTE = "#/storage"
EXPORT_ROUTE = "#/"

PERSIST_TITLE = "The browser may delete your files"
PERSIST_TEXT = (
    "SceneVault keeps your projects only in this browser's storage, and the browser has not "
    "promised to keep it: when the disk runs low it may delete them without asking. Some "
    "browsers (Safari) also delete what a site stored after 7 days without a visit, unless the "
    "app is installed (added to the Home Screen or the Dock). To keep your files: ask the "
    "browser to keep them, install the app, and keep a backup.")
PERSIST_DECLINED = (
    "The browser said no for now. Browsers usually agree for sites you install, bookmark or use "
    "often; until then, a backup is the only copy that survives.")
INSTALL_HELP = (
    "To install: use your browser's Install item (Chrome and Edge: the install icon in the "
    "address bar, or the menu, then Install SceneVault; Safari: Share, then Add to Home Screen "
    "or Add to Dock).")
BACKUP_TITLE = "Changes not backed up for more than 7 days"
BACKUP_RISK = (
    "If this browser's storage is cleared (by you, by the browser when the disk runs low, or by "
    "Safari after 7 days without a visit), these changes are gone for good. Export a backup, or "
    "back up to a folder.")
GRANTED_NOTICE = ("The browser agreed to keep SceneVault's storage: it will not delete your "
                  "files to make room. Keep a backup all the same.")


@dataclass(frozen=True)
class StaleProject:
    """A project with a change in no backup for more than the limit."""

    id: str
    title: str
    since: int          # Unix ms of its oldest unbacked change
    days: int           # whole days since then
    never_backed_up: bool


@dataclass(frozen=True)
class Fix:
    """One way out, drawn as a button (`action`) or a link (`href`); `help` is plain text."""

    action: str         # "persist", "install", "install-help", "folder", "export"
    label: str
    href: str | None = None


@dataclass(frozen=True)
class Banner:
    kind: str           # "persist" or "backup"
    title: str
    text: str
    fixes: tuple[Fix, ...]
    note: str | None = None   # the answer to the last request, or how to install


@dataclass(frozen=True)
class Situation:
    """What the banners depend on. `install`: "available" (the browser offered an install
    prompt), "installed" (running as the installed app) or "manual" (say how).
    `persist_answer`: "declined" once the browser said no in this session."""

    has_data: bool
    persisted: bool
    install: str
    now: int
    stale: tuple[StaleProject, ...] = ()
    persist_answer: str | None = None
    dismissed: frozenset[str] = field(default_factory=frozenset)


def stale_projects(projects, assets, now: int, folder_at: int | None = None,
                   limit_ms: int = BACKUP_AGE_LIMIT_MS) -> tuple[StaleProject, ...]:
    """Projects whose oldest unbacked change is more than `limit_ms` old, oldest first.
    Exactly `limit_ms` old is not yet stale."""
    by_project: dict[str, list] = {}
    for asset in assets:
        by_project.setdefault(asset.project_id, []).append(asset)
    stale = []
    for project in projects:
        since = unbacked_since(project, by_project.get(project.id, ()), folder_at)
        if since is not None and now - since > limit_ms:
            stale.append(StaleProject(project.id, project.title, since, days_between(since, now),
                                      project.backed_up_at is None))
    return tuple(sorted(stale, key=lambda s: (s.since, s.title)))


def banners(situation: Situation) -> list[Banner]:
    """The banners to show now, persistence first."""
    shown = []
    if situation.has_data and not situation.persisted and "persist" not in situation.dismissed:
        shown.append(persist_banner(situation.install, situation.persist_answer))
    if situation.stale and "backup" not in situation.dismissed:
        shown.append(backup_banner(situation.stale))
    return shown


def persist_banner(install: str, answer: str | None = None) -> Banner:
    fixes = [Fix("persist", "Keep my data")]
    note = PERSIST_DECLINED if answer == "declined" else None
    if install == "available":
        fixes.append(Fix("install", "Install SceneVault"))
    elif install != "installed":
        fixes.append(Fix("install-help", INSTALL_HELP))
    fixes += [Fix("folder", "Back up to a folder", STORAGE_ROUTE),
              Fix("export", "Export a backup", EXPORT_ROUTE)]
    return Banner("persist", PERSIST_TITLE, PERSIST_TEXT, tuple(fixes), note)


def backup_banner(stale: tuple[StaleProject, ...]) -> Banner:
    return Banner("backup", BACKUP_TITLE, f"{stale_list(stale)} {BACKUP_RISK}",
                  (Fix("export", "Export a backup", EXPORT_ROUTE),
                   Fix("folder", "Back up to a folder", STORAGE_ROUTE)))


def stale_list(stale: tuple[StaleProject, ...]) -> str:
    """'Not in any backup: “Moon heist” (oldest change 9 days ago), “Train ride” (never backed up,
    12 days) and 2 more.'"""
    named = [f"“{s.title}” ({_age(s)})" for s in stale[:NAMED_PROJECTS]]
    rest = len(stale) - len(named)
    if rest:
        listed = ", ".join(named) + f" and {rest} more"
    elif len(named) > 1:
        listed = ", ".join(named[:-1]) + " and " + named[-1]
    else:
        listed = named[0]
    return f"Not in any backup: {listed}."


def _age(stale: StaleProject) -> str:
    days = f"{stale.days} day{'' if stale.days == 1 else 's'}"
    return f"never backed up, {days}" if stale.never_backed_up else f"oldest change {days} ago"
