-- authensor 0.4.0 -> 0.5.0.
--
-- What changes for existing data is said beside each part below.
\echo Use "ALTER EXTENSION authensor UPDATE TO '0.5.0'" to load this file. \quit
