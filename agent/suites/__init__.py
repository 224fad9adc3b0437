"""Suites: the schema of a task (`models`), loading and checking them (`loading`), git
sources (`git`), generated suites (`mutate`), pass-rate calibration (`calibrate`), and the
suites shipped here."""
