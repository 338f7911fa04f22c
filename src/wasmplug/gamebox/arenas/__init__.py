"""Arenas: rooms where members pick a game and play it.

`state` (the rules: members, host, phases; no I/O), `engine` (this process's
arenas with their game plug-ins and viewers), and the backends that keep
them, behind one interface (`base.ArenaBackend`): `local` (in this process)
and `ray` (in named Ray actors shared by every server of a cluster).
"""
