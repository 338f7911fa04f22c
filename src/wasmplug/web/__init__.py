"""The web foundation: what a public web application of wasmplug needs, knowing nothing of games.

`database` (SQLAlchemy engine, sessions, Alembic migrations), `accounts` (users
and API tokens in that database), `passwords` (hashing, token secrets),
`sessions` (signed cookies, CSRF), `rate_limits`, `security` (the CSP and
friends on every response) and `limits` (refusing an oversized body unread).
GameBox builds on it; so can another application (functions as a service).
"""
