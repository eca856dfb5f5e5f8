"""Turning text into vectors: one small interface, an offline default and an HTTP client."""
