//! Receipts appended without SQL are the rows an INSERT would write. What an
//! operator may add to the table (defaults, triggers, constraints) is tested
//! in tests/pg_regress/sql/receipts.sql, which alters the table.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn run(sql: &str) {
        Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn one<T: IntoDatum + FromDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    /// A tenant that allows everything, chosen for this transaction.
    fn allow_all() {
        run("SELECT authensor.publish_platform_policy('rules: []')");
        run("SET LOCAL authensor.tenant_id = 't1'");
        run("SELECT authensor.publish_policy('default: allow')");
    }

    #[pg_test]
    fn a_receipt_is_one_visible_row_with_a_fresh_random_id() {
        allow_all();
        let ids: Vec<String> = (0..3)
            .map(|_| one::<String>("SELECT receipt_id::text FROM authensor.evaluate('a.b', '{\"n\": 1}', '{\"tenantId\": \"other\"}')"))
            .collect();
        assert!(
            ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
            "{ids:?}"
        );
        // Version 7 with the RFC 9562 variant.
        assert!(
            ids.iter()
                .all(|id| &id[14..15] == "7" && "89ab".contains(&id[19..20])),
            "{ids:?}"
        );
        // The first 48 bits are the millisecond of created_at.
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM authensor.receipts
                  WHERE committed AND ('x' || lpad(replace(left(id::text, 13), '-', ''), 16, '0'))::bit(64)::bigint
                        = floor(extract(epoch FROM created_at) * 1000)"
            ),
            3
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM authensor.receipts
                  WHERE committed AND tenant_id = 't1' AND tool = 'a.b' AND args = '{\"n\": 1}'
                    AND context = '{\"tenantId\": \"t1\"}' AND action = 'allow' AND layer = 'tenant'
                    AND rule_id IS NULL AND platform_version = 1 AND tenant_version = 1"
            ),
            3
        );
    }

    /// PostgreSQL 18: a NOT ENFORCED constraint does not hold receipts back,
    /// as it does not hold back an INSERT (ExecRelCheck of 18 skips it).
    #[cfg(feature = "pg18")]
    #[pg_test]
    fn a_not_enforced_check_is_skipped() {
        allow_all();
        run("ALTER TABLE authensor.receipts ADD CONSTRAINT never CHECK (false) NOT ENFORCED");
        run("SELECT authensor.evaluate('a.b')");
        run("SELECT authensor.evaluate('a.b')");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed"),
            2
        );
    }

    /// PostgreSQL 18: a check on a virtual generated column sees the column's
    /// value, which the row as formed does not hold (it would pass as NULL):
    /// the first receipt passes, the second is refused as an INSERT would be.
    /// NOT VALID: receipts of earlier tests' rolled-back decisions, written
    /// since, are in the table.
    #[cfg(feature = "pg18")]
    #[pg_test(
        error = "new row for relation \"receipts_default\" violates check constraint \"short_tool\""
    )]
    fn a_check_on_a_virtual_generated_column_holds() {
        allow_all();
        run("ALTER TABLE authensor.receipts
               ADD COLUMN tool_length integer GENERATED ALWAYS AS (length(tool)) VIRTUAL,
               ADD CONSTRAINT short_tool CHECK (tool_length < 5) NOT VALID");
        run("SELECT authensor.evaluate('a.b')");
        run("SELECT authensor.evaluate('a.long.tool')");
    }
}
