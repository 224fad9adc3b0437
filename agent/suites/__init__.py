"""Suites: the schema of a task (`models`), loading and checking them (`loading`), and the suites shipped here."""
