"""Kontor's built-in integration plugins, each registered through the kontor.plugins entry points."""
