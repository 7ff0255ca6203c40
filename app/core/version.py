"""The one place SceneVault's version lives (pure: server, page and tests read it).

    >>> from app.core.version import __version__
    >>> __version__.count(".")
    2
"""

__version__ = "0.1.0"
