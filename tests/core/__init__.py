"""Tests of docmill/core/."""
