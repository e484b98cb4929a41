-- The embedded node counts dial attempts in memory (ADR 0014): the table
-- stays the truth, append-only, and the server reads it at start and
-- catches up on rows written by any other connection before each dial
-- group. Its index on the number hash inserted at a random place, about
-- half of the pages every dial check wrote. PostgreSQL keeps the index:
-- several nodes share that database.
DROP INDEX dial_attempts_number;
