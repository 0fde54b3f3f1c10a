"""Test support code shared across test modules (servers, scene fixtures)."""
