//! The args an agent's statement is decided with, read from its receipt.
//! Each test becomes an agent for the rest of its transaction with SET LOCAL
//! SESSION AUTHORIZATION (the session user is what makes an agent); refusals
//! and row-level security over real connections are tested in
//! tests/pg_regress/sql/agent_sql.sql.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use serde_json::{Value, json};

    fn run(sql: &str) {
        Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A schema of tables, a view and a partitioned table, a tenant that
    /// allows every statement, and an agent role bound to it (a member of
    /// authensor_trusted with the tenant set on the role), as whom the rest
    /// of the transaction runs.
    fn become_agent() {
        run("SELECT authensor.publish_platform_policy('rules: []')");
        run("SET LOCAL authensor.tenant_id = 'sql-t'");
        run("SELECT authensor.publish_policy('default: allow')");
        run("CREATE SCHEMA sqlt");
        run("CREATE TABLE sqlt.items (id int PRIMARY KEY, name text, qty int)");
        run("CREATE VIEW sqlt.item_names AS SELECT id, name FROM sqlt.items");
        run("CREATE TABLE sqlt.events (at date, what text) PARTITION BY RANGE (at)");
        run(
            "CREATE TABLE sqlt.events_2026 PARTITION OF sqlt.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        );
        run("CREATE ROLE sqlt_agent NOLOGIN IN ROLE authensor_agent, authensor_trusted");
        run("GRANT USAGE, CREATE ON SCHEMA sqlt TO sqlt_agent");
        run("GRANT ALL ON ALL TABLES IN SCHEMA sqlt TO sqlt_agent");
        run("ALTER ROLE sqlt_agent SET authensor.tenant_id = 'sql-t'");
        run("SET LOCAL SESSION AUTHORIZATION sqlt_agent");
    }

    /// The tool and args of the receipts `sql` left, in order.
    fn decided(sql: &str) -> Vec<(String, Value)> {
        let before: i64 = count();
        run(sql);
        let rows = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT jsonb_agg(jsonb_build_array(tool, args) ORDER BY created_at, id)
               FROM (SELECT * FROM authensor.receipts WHERE committed
                      ORDER BY created_at, id OFFSET $1) AS r",
            &[before.into()],
        )
        .unwrap()
        .map(|rows| rows.0)
        .unwrap_or(Value::Null);
        // The statements that read the receipts left some too: not returned.
        rows.as_array()
            .into_iter()
            .flatten()
            .map(|row| (row[0].as_str().unwrap().to_owned(), row[1].clone()))
            .filter(|(_, args)| {
                !args["statement"]
                    .as_str()
                    .unwrap_or("")
                    .contains("authensor.receipts")
            })
            .collect()
    }

    /// Receipts of this transaction: the tests roll back, and the receipts
    /// of other tests' transactions are written again as not committed when
    /// their backends exit, at any moment.
    fn count() -> i64 {
        Spi::get_one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed")
            .unwrap()
            .unwrap()
    }

    #[pg_test]
    fn an_update_names_its_table_columns_where_and_functions() {
        become_agent();
        let calls = decided("UPDATE sqlt.items SET name = upper(name), qty = 1 WHERE id = 2");
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (tool, args) = &calls[0];
        assert_eq!(tool, "sql.update");
        assert_eq!(args["command"], "UPDATE");
        assert_eq!(args["tables"], json!(["sqlt.items"]));
        assert_eq!(args["writes"], json!(["sqlt.items"]));
        assert_eq!(args["columns"], json!(["name", "qty"]));
        assert_eq!(args["has_where"], true);
        assert_eq!(args["functions"], json!(["pg_catalog.upper"]));
        assert_eq!(
            args["statement"],
            "UPDATE sqlt.items SET name = upper(name), qty = 1 WHERE id = 2"
        );
    }

    #[pg_test]
    fn a_delete_without_where_says_so() {
        become_agent();
        let calls = decided("DELETE FROM sqlt.items");
        assert_eq!(calls[0].0, "sql.delete");
        assert_eq!(calls[0].1["has_where"], false);
        assert_eq!(calls[0].1["columns"], json!([]));
    }

    #[pg_test]
    fn a_view_counts_with_its_tables_and_a_partition_as_its_table() {
        become_agent();
        let calls = decided("SELECT count(*) FROM sqlt.item_names");
        assert_eq!(calls[0].0, "sql.select");
        assert_eq!(
            calls[0].1["tables"],
            json!(["sqlt.item_names", "sqlt.items"])
        );
        assert_eq!(calls[0].1["writes"], json!([]));
        assert_eq!(calls[0].1["functions"], json!(["pg_catalog.count"]));
        assert!(calls[0].1.get("has_where").is_none(), "{calls:?}");
        let calls = decided("INSERT INTO sqlt.events VALUES ('2026-03-01', 'x')");
        assert_eq!(calls[0].0, "sql.insert");
        assert_eq!(calls[0].1["tables"], json!(["sqlt.events"]));
        assert_eq!(calls[0].1["writes"], json!(["sqlt.events"]));
        assert_eq!(calls[0].1["columns"], json!(["at", "what"]));
    }

    #[pg_test]
    fn a_data_modifying_cte_is_decided_as_a_statement_of_its_own() {
        become_agent();
        let calls =
            decided("WITH gone AS (DELETE FROM sqlt.items RETURNING id) SELECT count(*) FROM gone");
        let tools: Vec<&str> = calls.iter().map(|(tool, _)| tool.as_str()).collect();
        assert_eq!(tools, ["sql.select", "sql.delete"], "{calls:?}");
        assert_eq!(calls[0].1["writes"], json!(["sqlt.items"]));
        assert_eq!(calls[1].1["tables"], json!(["sqlt.items"]));
        assert_eq!(calls[1].1["writes"], json!(["sqlt.items"]));
        assert_eq!(calls[1].1["has_where"], false);
    }

    #[pg_test]
    fn ddl_and_utility_statements_are_named_by_their_kind() {
        become_agent();
        let calls = decided("CREATE TABLE sqlt.made (a int)");
        assert_eq!(calls[0].0, "sql.ddl");
        assert_eq!(calls[0].1["command"], "CREATE TABLE");
        let calls = decided("SET LOCAL work_mem = '8MB'");
        assert_eq!(calls[0].0, "sql.utility");
        assert_eq!(calls[0].1["command"], "SET");
    }

    #[pg_test]
    fn a_prepared_statement_is_decided_at_each_execution() {
        become_agent();
        run("PREPARE q(int) AS SELECT name FROM sqlt.items WHERE id = $1");
        for _ in 0..3 {
            let calls = decided("EXECUTE q(1)");
            let tools: Vec<&str> = calls.iter().map(|(tool, _)| tool.as_str()).collect();
            assert_eq!(tools, ["sql.utility", "sql.select"], "{calls:?}");
            assert_eq!(
                calls[1].1["statement"],
                "PREPARE q(int) AS SELECT name FROM sqlt.items WHERE id = $1"
            );
        }
    }
}
