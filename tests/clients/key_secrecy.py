"""API keys stay out of statement text: a second session of the same login
role reads pg_stat_activity while the first holds its transaction open after
authenticating, and must not find the key, whether it was sent as a bind
parameter (the documented pattern) or written into the statement as a
literal (which authenticate() takes out of the text pg_stat_activity shows).
The same read finds the key written into a later statement that does not
authenticate, which shows that the check can fail.

Usage: key_secrecy.py HOST PORT DBNAME ROLE KEY
"""

import sys

import psycopg
from psycopg import sql

host, port, dbname, role, key = sys.argv[1:6]
conninfo = f"host={host} port={port} dbname={dbname} user={role}"


def authenticate_as_parameter(cursor):
    cursor.execute("SELECT authensor.authenticate(%s)", (key,))


def authenticate_as_literal(cursor):
    cursor.execute(sql.SQL("SELECT authensor.authenticate({})").format(sql.Literal(key)))


def visible_to_same_role(authenticate, then=None) -> bool:
    """Whether another session of `role` sees the key while the first one,
    having authenticated (and run `then`), waits in its transaction."""
    with psycopg.connect(conninfo) as agent, psycopg.connect(conninfo) as neighbour:
        agent_pid = agent.info.backend_pid
        with agent.cursor() as cursor:
            authenticate(cursor)
            (tenant,) = cursor.fetchone()
            assert tenant, "authenticate() returned no tenant"
            if then:
                cursor.execute(then)
        # The agent's transaction is still open: pg_stat_activity shows its
        # last statement, as it would to anyone sharing the login role.
        with neighbour.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (agent_pid,))
            (query,) = cursor.fetchone()
        agent.rollback()
    expected = "length" if then else "authensor.authenticate"
    assert expected in query, f"unexpected activity: {query!r}"
    return key in query


as_parameter = visible_to_same_role(authenticate_as_parameter)
as_literal = visible_to_same_role(authenticate_as_literal)
in_other_statement = visible_to_same_role(
    authenticate_as_parameter, sql.SQL("SELECT length({})").format(sql.Literal(key))
)
print(f"key visible to the same role when sent as a bind parameter: {as_parameter}")
print(f"key visible to the same role when written into authenticate()'s statement: {as_literal}")
print(f"key visible to the same role when written into another statement: {in_other_statement}")
if as_parameter or as_literal or not in_other_statement:
    sys.exit(1)
