"""Concept Brain Studio application: plugins (Qt-free), views and main window (Qt), CLI."""
