"""GameBox's pages and endpoints, one module per family; `app.py` maps the URLs to them.

`arena` (home, create, join, the arena page and its live socket), `accounts`
(sign up, sign in, sign out), `catalogue` (the games' pages and artwork),
`my_games` (a member's games and API tokens), `admin`, `api` (uploads from the
command line), and what they share: `pages` (rendering, the signed-in member,
CSRF-checked forms) and `receive_upload` (size and rate checks of an upload).
Every endpoint is a module-level function reading `request.app.state`.
"""
