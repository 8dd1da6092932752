"""Fixes for upstream incompatibilities, each in one small module with a test that fails when
upstream changes (so the fix is removed when it is no longer needed)."""
