-- The foundation: nothing but the migrations table, which codesvc creates itself.
-- Later migrations add the health-code tables.
SELECT 1;
