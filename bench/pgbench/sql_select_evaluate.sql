\set id random(1, 10000)
SELECT amount, (SELECT action FROM authensor.evaluate('db.select', '{"tables": ["bench.sql_orders"]}'))
  FROM bench.sql_orders WHERE id = :id;
