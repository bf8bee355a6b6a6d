"""Plumbing shared by every extracted service: settings, database sessions, problem details, health, dry run."""
