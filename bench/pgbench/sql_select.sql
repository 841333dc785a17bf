\set id random(1, 10000)
SELECT amount FROM bench.sql_orders WHERE id = :id;
