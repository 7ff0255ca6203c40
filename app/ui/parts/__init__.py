"""The parts views are built from (browser): the DOM helpers and Scope, dialogs, slot cards,
library cards and filters, panels for storage, render and backups.

    from app.ui.parts.dom import Scope, h
"""
