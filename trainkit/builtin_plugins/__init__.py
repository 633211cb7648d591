"""trainkit's own features, written as ordinary plugins (one concern per module).

They are listed in ``trainkit.plugins.DEFAULT_PLUGINS`` and loaded through the
same path as third-party plugins from the ``trainkit`` entry-point group.
"""
