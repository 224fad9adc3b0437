"""Test doubles: a scripted model that plays policies over the OpenAI chat protocol (tests and bench only)."""
