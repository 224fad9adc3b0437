"""The studio served to a browser (`repo-agent studio DIR --serve`): one studio process per
browser session on the same store, behind a token, Host and Origin checks.

`access.py` (who may connect: tokens, labelers, names, hosts, origins), `limits.py` (what a
served studio may do: no model code unless allowed, typed paths inside DIR), `server.py` (the
aiohttp server around textual-serve), `session.py` (the child process one session runs).
"""
