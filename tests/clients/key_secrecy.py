"""API keys stay out of statement text: a second session of the same login
role reads pg_stat_activity while the first holds its transaction open after
authenticating, and must not find the key when it was sent as a bind
parameter (the documented pattern). The same read finds a key sent as a
literal, which shows that the check can fail.

Usage: key_secrecy.py HOST PORT DBNAME ROLE KEY
"""

import sys

import psycopg

host, port, dbname, role, key = sys.argv[1:6]
conninfo = f"host={host} port={port} dbname={dbname} user={role}"


def visible_to_same_role(authenticate) -> bool:
    """Whether another session of `role` sees the key while the first one,
    having authenticated, waits in its transaction."""
    with psycopg.connect(conninfo) as agent, psycopg.connect(conninfo) as neighbour:
        agent_pid = agent.info.backend_pid
        with agent.cursor() as cursor:
            authenticate(cursor)
            (tenant,) = cursor.fetchone()
            assert tenant, "authenticate() returned no tenant"
        # The agent's transaction is still open: pg_stat_activity shows its
        # last statement, as it would to anyone sharing the login role.
        with neighbour.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (agent_pid,))
            (query,) = cursor.fetchone()
        agent.rollback()
    assert "authensor.authenticate" in query, f"unexpected activity: {query!r}"
    return key in query


as_parameter = visible_to_same_role(
    lambda cursor: cursor.execute("SELECT authensor.authenticate(%s)", (key,))
)
as_literal = visible_to_same_role(
    lambda cursor: cursor.execute(
        psycopg.sql.SQL("SELECT authensor.authenticate({})").format(psycopg.sql.Literal(key))
    )
)
print(f"key visible to the same role when sent as a bind parameter: {as_parameter}")
print(f"key visible to the same role when written into the statement: {as_literal}")
if as_parameter or not as_literal:
    sys.exit(1)
