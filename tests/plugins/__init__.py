"""Tests of docmill/plugins/: each built-in plugin against the real library it wraps."""
