"""Tests of docmill/actors/."""
