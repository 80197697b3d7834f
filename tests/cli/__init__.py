"""Tests of docmill/cli/."""
