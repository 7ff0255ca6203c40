"""IndexedDB as awaitables (browser): open and upgrade a database, cache the connection, and run
transactions that are built first and awaited once. Nothing here knows about assets.

Pyodide resumes a coroutine on a new browser task, so any `await` ends an open transaction. A
`Transaction` is therefore built synchronously: issue requests, and chain follow-up requests
with `then(request, callback)`, whose callback runs inside the request's success event (still
inside the transaction). Then `await tx.done()` once. The transaction owns the one proxy that
dispatches its callbacks and destroys it when it settles. A callback that raises aborts the transaction, and
`done()` re-raises that exception. `tx.follow(request, store, field)` chains a dependent read
(a record, then the blob its hash names) without calling back into Python, and
`commit_when(promise, begin)` opens a transaction in the very task where a JS promise resolves,
so Python resumes once where awaiting the promise and then the commit would resume it twice.

    db = await connect("scenevault")
    tx = Transaction(db, ["assets"], "readwrite")
    tx.then(tx.store("assets").get(asset_id), lambda record: ...)
    await tx.done()
"""

from __future__ import annotations

import functools
from typing import Callable

import js
from pyodide.ffi import JsException, create_proxy, jsnull, to_js
from pyscript.js_modules import sv_idb

from app.store import library_index, schema
from app.core.errors import DatabaseBlocked, QuotaExceeded, VaultError

# The promise wrappers are JS (static/js/bridge/idb.mjs, loaded by pyscript.toml as `sv_idb`), so
# that handlers attach synchronously, before any await, and so that odd rejection values
# (Chromium's QuotaExceededError class) reach Python as DOMExceptions. Every call below is
# synchronous: it issues the request or attaches the handlers and returns a promise.
_HELPERS = sv_idb

_connections: dict[str, object] = {}


@functools.lru_cache(maxsize=32)
def _store_list(stores: tuple[str, ...]):
    """A JS array of store names, made once per combination."""
    return to_js(list(stores))


_FROM_ENTRIES = js.Object.fromEntries


def to_js_record(record: dict):
    """Python dict -> plain JS object for storing (nested dicts too; None fields left out)."""
    clean = {key: value for key, value in record.items() if value is not None}
    return to_js(clean, dict_converter=_FROM_ENTRIES)


def from_js_record(value) -> dict | None:
    """JS object -> Python dict (JS null/undefined -> None), the pair of `to_js_record`."""
    if value is None or value is jsnull:
        return None
    return _nulls_to_none(value.to_py())


def present(value):
    """A JS value as it is, or None for JS null/undefined (a record that is not there)."""
    return None if value is None or value is jsnull else value


def _nulls_to_none(value):
    kind = type(value)
    if kind is dict:
        return {key: _nulls_to_none(item) for key, item in value.items()}
    if kind is list:
        return [_nulls_to_none(item) for item in value]
    return None if value is jsnull else value


def translate_error(exc: JsException) -> VaultError:
    """A browser IndexedDB error as the matching VaultError."""
    name = getattr(exc, "name", "Error")
    message = getattr(exc, "message", str(exc)) or name
    if name == "QuotaExceededError":
        return QuotaExceeded(f"The browser's storage quota is full: {message}")
    if name == "BlockedError":
        return DatabaseBlocked(f"{message}. Close the other SceneVault tabs, then reload.")
    return VaultError(f"IndexedDB {name}: {message}")


async def connect(name: str = schema.DB_NAME, version: int = schema.VERSION,
                  upgrades: dict | None = None,
                  on_versionchange: Callable[[], None] | None = None):
    """The open connection to `name`, opening and upgrading it on first use (cached after)."""
    if name in _connections:
        return _connections[name]
    upgrade = create_proxy(lambda db, tx, old, new: _upgrade(db, tx, old, new, upgrades))
    try:
        db = await _HELPERS.open(name, version, upgrade)
    except JsException as exc:
        raise translate_error(exc) from None
    finally:
        upgrade.destroy()
    _watch(name, db, on_versionchange)
    _connections[name] = db
    return db


def _upgrade(db, tx, old_version: int, new_version: int, upgrades: dict | None) -> None:
    for step in schema.steps_between(old_version, new_version, upgrades):
        if isinstance(step, schema.CreateStore):
            db.createObjectStore(step.store, to_js({"keyPath": step.key_path},
                                                  dict_converter=js.Object.fromEntries))
        elif isinstance(step, schema.CreateIndex):
            key_path = to_js(list(step.key_path)) if isinstance(step.key_path, tuple) else step.key_path
            tx.objectStore(step.store).createIndex(
                step.name, key_path, to_js({"unique": step.unique, "multiEntry": step.multi_entry},
                                           dict_converter=js.Object.fromEntries))
        else:
            _fill_index_fields(tx, step.store)


def _fill_index_fields(tx, store: str) -> None:
    """Walk every record of `store` inside the upgrade transaction and set its index fields
    (library_index.index_fields); the open resolves only after this transaction commits. A
    record that cannot be read aborts the upgrade: the old version stays as it was."""
    cursor_request = tx.objectStore(store).openCursor()

    def step(*_):
        try:
            cursor = cursor_request.result
            if cursor is None or cursor is jsnull:
                handler.destroy()
                return
            value = cursor.value
            recipe = getattr(value, "recipe", None)
            fields = library_index.index_fields(
                _js_text(recipe, "prompt"), _js_text(recipe, "model"),
                bool(getattr(value, "favorite", False)))
            value.terms = to_js(fields["terms"])
            if "starred" in fields:
                value.starred = fields["starred"]
            elif hasattr(value, "starred"):
                js.Reflect.deleteProperty(value, "starred")
            cursor.update(value)
            getattr(cursor, "continue")()
        except Exception:
            handler.destroy()
            tx.abort()
            raise

    handler = create_proxy(step)
    cursor_request.addEventListener("success", handler)


def _js_text(obj, name: str) -> str:
    value = None if obj is None or obj is jsnull else getattr(obj, name, None)
    return value if isinstance(value, str) else ""


def _watch(name: str, db, on_versionchange: Callable[[], None] | None) -> None:
    """Close and forget the connection when another tab upgrades it or the browser drops it."""
    def forget(*_):
        if _connections.get(name) is db:
            del _connections[name]

    def on_change(*_):
        db.close()
        forget()
        if on_versionchange is not None:
            on_versionchange()

    db.onversionchange = create_proxy(on_change)
    db.onclose = create_proxy(forget)


def close(name: str = schema.DB_NAME) -> None:
    """Close the cached connection, if any (the next `connect` opens a new one)."""
    db = _connections.pop(name, None)
    if db is not None:
        db.close()


async def request(req):
    """Await a single IDBRequest outside any transaction you still need."""
    try:
        return await _HELPERS.request(req)
    except JsException as exc:
        raise translate_error(exc) from None


class Transaction:
    """One transaction, built synchronously, awaited once with `done()`."""

    def __init__(self, db, stores: list[str], mode: str = "readonly"):
        self.tx = db.transaction(_store_list(tuple(stores)), mode)
        self.stores, self.mode = frozenset(stores), mode
        self._completion = _HELPERS.transaction(self.tx)  # attached before any await
        self._callbacks: list[Callable[[object], None]] = []
        self._dispatch = None  # one proxy per transaction serves every `then`
        self.error: BaseException | None = None

    def store(self, name: str):
        return self.tx.objectStore(name)

    def then(self, req, callback: Callable[[object], None]) -> None:
        """Run `callback(req.result)` in the success event, where it may issue more requests."""
        if self._dispatch is None:
            self._dispatch = create_proxy(self._on_success)
        self._callbacks.append(callback)
        _HELPERS.listen(req, self._dispatch, len(self._callbacks) - 1)

    def follow(self, req, store: str, field: str):
        """Read `req`'s record, then the record of `store` keyed by its `field`, both in this
        transaction and without calling back into Python: after `done()`, the returned JS
        object's `.first` and `.second` hold them (None where absent)."""
        return _HELPERS.follow(req, store, field)

    def _on_success(self, index: int, result) -> None:
        if self.error is not None:
            return
        try:
            self._callbacks[index](result)
        except Exception as exc:  # abort the whole transaction; done() re-raises it
            self.abort(exc)

    def abort(self, reason: BaseException) -> None:
        """Abort the transaction; `done()` will raise `reason`."""
        self.error = reason
        try:
            self.tx.abort()
        except JsException:  # already finished or aborting: the reason still stands
            pass

    def discard(self, reason: BaseException) -> None:
        """Abort a transaction that nobody will await (its builder failed): nothing it queued
        commits, and its rejected completion is not left unhandled."""
        self.abort(reason)
        _HELPERS.settleQuietly(self._completion)
        self._release()

    async def done(self) -> None:
        """Wait for commit. Raises the callback's exception or the translated browser error."""
        try:
            await self._completion
        except JsException as exc:
            self.settle(exc)
        except BaseException:  # e.g. cancelled: still release the dispatcher
            self._release()
            raise
        self.settle(None)

    def settle(self, failure: JsException | None) -> None:
        """Once the completion promise has settled (`failure` is its rejection, if any): release
        the dispatcher and raise what went wrong, as `done()` does. For callers that awaited
        the completion some other way (`commit_when`)."""
        self._release()
        if self.error is not None:
            raise self.error
        if failure is not None:
            raise translate_error(failure) from None

    def _release(self) -> None:
        if self._dispatch is not None:
            self._dispatch.destroy()
            self._dispatch = None
        self._callbacks.clear()


async def commit_when(promise, begin: Callable[[object], Transaction]):
    """Await `promise`; in the very task where it resolves, `begin(value)` opens and fills a
    transaction, whose commit is awaited too. Returns (value, transaction).

    `value = await promise; tx = begin(value); await tx.done()` resumes Python twice, each time
    through the browser's task queue, behind whatever the page queued meanwhile (after a media
    probe, the teardown of its <audio> element). Here `begin` runs as a JS continuation of
    `promise`, so the transaction is under way while that queue drains, and Python resumes once.
    A rejected `promise` raises its JsException unchanged (the caller knows what it meant);
    `begin`'s own exception, and the transaction's errors, are raised as `done()` raises them.
    """
    started: list = []

    def on_value(value):
        try:
            tx = begin(value)
        except Exception as exc:  # noqa: BLE001 - re-raised below, in the awaiting coroutine
            started.append(exc)
            return None
        started.append((value, tx))
        return tx.tx  # idb.mjs's `chain` follows its completion

    handler = create_proxy(on_value)
    failure = None
    try:
        await _HELPERS.chain(promise, handler).settled
    except JsException as exc:
        failure = exc
    finally:
        handler.destroy()
    if not started:
        raise failure  # `promise` itself was rejected
    if isinstance(started[0], Exception):
        raise started[0]
    value, tx = started[0]
    tx.settle(failure)
    return value, tx
