"""The web foundation: what a public web application of wasmplug needs, knowing nothing of games.

`database` (SQLAlchemy engine, sessions, Alembic migrations), `accounts` (users
and API tokens in that database, revocable sessions), `passwords` (hashing on a
bounded `HashingPool`, token secrets), `sessions` (signed cookies, CSRF),
`rate_limits` (bounded in memory), `sign_in` (password tries counted before they
are checked), `security` (the CSP and friends on every response, outside every
layer), `limits` (refusing an oversized body unread, bounded numbers),
`body_limits` (request bodies counted as they stream), `client_limits` (requests
per client address, in flight and a second) and `server` (uvicorn's
connection limits and a header deadline against slowloris).
GameBox builds on it; so can another application (functions as a service).
"""
