"""docmill's built-in plugins, one module per library they wrap.

They are registered through the ``docmill`` entry-point group in
``pyproject.toml``, exactly like third-party plugins.
"""
