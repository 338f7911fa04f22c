"""The catalogue: which games can be played, and their code.

`base` (the `Catalogue` interface, `GameInfo`, `GameLimits`) and its two
implementations: `folders` (games in folders: the bundled ones, a data dir)
and `database` (uploaded games in the database, the bundled ones first).
"""
