"""Tests of docmill/api/."""
