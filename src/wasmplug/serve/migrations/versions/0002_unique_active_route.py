"""unique active route: serve_functions.route, the active version's route, unique across front ends

Revision ID: 0002
Revises: 0001
"""

import json
import logging

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("serve_functions", sa.Column("route", sa.String(length=260), nullable=True))
    # Each function's active route, from its active version's settings. Should two functions hold the
    # same route (deployed through two front ends before this check existed), the older one keeps it.
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT f.id, f.name, v.settings FROM serve_functions f JOIN serve_versions v "
        "ON v.function_id = f.id AND v.number = f.active_version ORDER BY f.id")).all()
    taken: dict[str, str] = {}
    for function_id, name, settings in rows:
        route = json.loads(settings).get("route")
        if route is None:
            continue
        if route in taken:
            logging.getLogger("wasmplug.serve").warning(
                "the route %s of the function %r is also %r's: %r keeps it, redeploy %r on another route",
                route, name, taken[route], taken[route], name)
            continue
        taken[route] = name
        connection.execute(sa.text("UPDATE serve_functions SET route = :route WHERE id = :id"),
                           {"route": route, "id": function_id})
    op.create_index("ix_serve_functions_route", "serve_functions", ["route"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_serve_functions_route", table_name="serve_functions")
    with op.batch_alter_table("serve_functions") as batch:
        batch.drop_column("route")
