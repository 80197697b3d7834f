"""Tests of docmill/app/."""
